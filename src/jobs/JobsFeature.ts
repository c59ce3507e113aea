// The jobs feature: the job database, the durable queue on it, the worker pool (`layer`), and its
// routes (`Group`, `handlers`), which src/App.ts adds to the public API.
// Remove the feature: delete src/jobs and test/jobs, and the lines naming JobsFeature in
// src/App.ts (its settings, JobsConfig.ts, go with the folder).
import type { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { ReadinessChecks } from "../http/public/ReadinessChecks.js"
import * as JobDatabase from "./JobDatabase.js"
import * as JobsConfig from "./JobsConfig.js"
import { Jobs, JobsLive } from "./JobsApi.js"
import * as JobMetrics from "./JobMetrics.js"
import * as JobStore from "./JobStore.js"
import * as WorkerPool from "./WorkerPool.js"

/** The feature's settings, read with all the others in src/App.ts's one Config.all. */
export const config = JobsConfig.config

/** POST /jobs and GET /jobs/:id. */
export const Group = Jobs

/** The group's handlers; they need the pool and the store (`layer`). */
export const handlers = JobsLive

const readiness = Layer.effectDiscard(Effect.gen(function*() {
  const store = yield* JobStore.JobStore
  yield* Effect.flatMap(ReadinessChecks, (checks) => checks.add({ name: "jobs", unsafeNotReady: store.unsafeNotReady }))
}))

/** The feature on the SQL client `database` gives (a test gives a double that fails writes). */
export const layerOn = <E, R>(database: Layer.Layer<SqlClient.SqlClient, E, R>) =>
  readiness.pipe(
    Layer.provideMerge(WorkerPool.layer),
    Layer.provideMerge(JobStore.layer),
    Layer.provideMerge(database),
    Layer.merge(JobMetrics.layer),
    Layer.provide(JobsConfig.layer)
  )

/** Acquired in order database, store, pool; released in reverse (the pool stops, then the store
 * hands back what it still holds, then the database closes). */
export const layer = layerOn(JobDatabase.layer)
