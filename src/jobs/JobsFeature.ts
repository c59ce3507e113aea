// The jobs feature as one layer: the job database, the durable queue on it, the worker pool, and
// their routes and readiness check on the public API.
// Remove the feature: delete src/jobs and test/jobs, and the two lines naming JobsFeature in
// src/App.ts (its WORKERS, JOB_* , DATA_DIR and DATABASE_URL settings in AppConfig may go too).
import { Effect, Layer } from "effect"
import { PublicRoutes } from "../http/public/PublicRoutes.js"
import * as JobDatabase from "./JobDatabase.js"
import { Jobs, JobsLive } from "./JobsApi.js"
import * as JobMetrics from "./JobMetrics.js"
import * as JobStore from "./JobStore.js"
import * as WorkerPool from "./WorkerPool.js"

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
  Layer.merge(JobMetrics.layer)
)
