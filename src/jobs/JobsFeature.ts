// The jobs feature as one layer: the job database, the durable queue on it, the worker pool, and
// their routes and readiness check on the public API.
// Remove the feature: delete src/jobs and test/jobs, and the lines naming JobsFeature in
// src/App.ts (its settings, JobsConfig.ts, go with the folder).
import { Effect, Layer } from "effect"
import { PublicRoutes } from "../http/public/PublicRoutes.js"
import * as JobDatabase from "./JobDatabase.js"
import * as JobsConfig from "./JobsConfig.js"
import { Jobs, JobsLive } from "./JobsApi.js"
import * as JobMetrics from "./JobMetrics.js"
import * as JobStore from "./JobStore.js"
import * as WorkerPool from "./WorkerPool.js"

/** The feature's settings, read with all the others in src/App.ts's one Config.all. */
export const config = JobsConfig.config

const routes = Layer.effectDiscard(Effect.gen(function*() {
  const routes = yield* PublicRoutes
  const store = yield* JobStore.JobStore
  yield* routes.addGroup(Jobs, JobsLive)
  yield* routes.addReadiness({ name: "jobs", unsafeNotReady: store.unsafeNotReady })
}))

/** Acquired in order database, store, pool, routes; released in reverse (the pool stops, then
 * the store hands back what it still holds, then the database closes). */
export const layer = routes.pipe(
  Layer.provideMerge(WorkerPool.layer),
  Layer.provideMerge(JobStore.layer),
  Layer.provideMerge(JobDatabase.layer),
  Layer.merge(JobMetrics.layer),
  Layer.provide(JobsConfig.layer)
)
