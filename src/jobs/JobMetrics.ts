// jobs_queue_depth and jobs_total{state}, updated synchronously (see HttpMetrics for why).
// Registered at 0 when the jobs feature's layer is built (`layer`, in JobsFeature), so both are
// exported from the first scrape; deleting this folder deletes them.
import { Effect, Layer, Metric, MetricKey } from "effect"
import type { JobState } from "./JobStore.js"

const depth = Metric.gauge("jobs_queue_depth", { description: "Unfinished jobs (queued or running) in the job store, on every replica sharing it; refreshed about every second." })
const totalKey = MetricKey.counter("jobs_total", { description: "Job state changes, by the state entered.", incremental: true })
const totals = new Map<JobState, Metric.Metric.Counter<number>>()

/** Every state a job can enter: a closed set, so each gets its series at 0 (the `satisfies`
 * makes a state added to JobState without being listed here a type error). */
const states = { queued: true, running: true, done: true, failed: true } satisfies Record<JobState, true>

const counterOf = (state: JobState) => {
  let counter = totals.get(state)
  if (counter === undefined) {
    counter = Metric.fromMetricKey(MetricKey.tagged(totalKey, "state", state))
    totals.set(state, counter)
  }
  return counter
}

export const setDepth = (value: number): void => depth.unsafeUpdate(value, [])

export const countState = (state: JobState): void => counterOf(state).unsafeUpdate(1, [])

/** Registers the feature's families: the depth gauge and jobs_total{state} for every state, at 0. */
export const layer = Layer.effectDiscard(Effect.sync(() => {
  depth.register()
  for (const state of Object.keys(states) as Array<JobState>) counterOf(state).register()
}))
