// The core routes and the jobs feature's, served as App.ts serves them: startPublic's `api`.
import { HttpApiBuilder } from "@effect/platform"
import { Layer } from "effect"
import * as Core from "../../src/http/public/CoreApi.js"
import * as JobsFeature from "../../src/jobs/JobsFeature.js"

export const jobsServed = HttpApiBuilder.api(Core.CoreApi.add(JobsFeature.Group)).pipe(
  Layer.provide(Core.handlers),
  Layer.provide(JobsFeature.handlers)
)
