// jobs_queue_depth and jobs_total{state}, updated synchronously (see HttpMetrics for why).
import { Metric, MetricKey } from "effect"
import type { JobState } from "./JobStore.js"

const depth = Metric.gauge("jobs_queue_depth", { description: "Unfinished jobs (queued or running) in the job store, on every replica sharing it; refreshed about every second." })
const totalKey = MetricKey.counter("jobs_total", { description: "Job state changes, by the state entered.", incremental: true })
const totals = new Map<JobState, Metric.Metric.Counter<number>>()

export const setDepth = (value: number): void => depth.unsafeUpdate(value, [])

export const countState = (state: JobState): void => {
  let counter = totals.get(state)
  if (counter === undefined) {
    counter = Metric.fromMetricKey(MetricKey.tagged(totalKey, "state", state))
    totals.set(state, counter)
  }
  counter.unsafeUpdate(1, [])
}
