// The jobs feature as one layer: the journal, the worker pool, and their routes on the public API.
// Remove the feature: delete src/jobs and test/jobs, and the two lines naming JobsFeature in
// src/App.ts (its WORKERS, JOB_QUEUE_SIZE and DATA_DIR settings in AppConfig may go too).
import { Effect, Layer } from "effect"
import { PublicRoutes } from "../http/public/PublicRoutes.js"
import { Jobs, JobsLive } from "./JobsApi.js"
import * as JobStore from "./JobStore.js"
import * as WorkerPool from "./WorkerPool.js"

/** Acquired in order store, pool, routes; released in reverse (the pool stops before the store closes). */
export const layer = Layer.effectDiscard(Effect.flatMap(PublicRoutes, (routes) => routes.addGroup(Jobs, JobsLive))).pipe(
  Layer.provideMerge(WorkerPool.layer),
  Layer.provideMerge(JobStore.layer)
)
