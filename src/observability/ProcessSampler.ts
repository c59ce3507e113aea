/**
 * The core's observability layer: registers the core's metric families (CoreMetrics), then
 * samples process figures into gauges: resident memory and event-loop lag.
 * Owns: a node event-loop delay monitor (enabled on acquire, disabled on release) and the
 *   fiber that samples it every second (restarted if it fails: Restart.restartOnFailure).
 * Does not own: the gauges' exposition (the /metrics route reads the metric registry).
 * Released when: its layer's scope closes.
 */
import { Effect, Layer, Metric, Schedule } from "effect"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { restartOnFailure } from "../lifecycle/Restart.js"
import * as CoreMetrics from "./CoreMetrics.js"

export const residentMemory = Metric.gauge("process_resident_memory_bytes", {
  description: "Resident set size of the process, in bytes."
})
export const eventLoopLag = Metric.gauge("nodejs_eventloop_lag_seconds", {
  description: "Mean event-loop delay over the last sampling interval, in seconds."
})

export const layer = Layer.scopedDiscard(Effect.gen(function*() {
  yield* CoreMetrics.register
  const delay = yield* Effect.acquireRelease(
    Effect.sync(() => {
      const histogram = monitorEventLoopDelay({ resolution: 10 })
      histogram.enable()
      return histogram
    }),
    (histogram) => Effect.sync(() => histogram.disable())
  )
  const sample = Effect.suspend(() => {
    const lagSeconds = Number.isNaN(delay.mean) ? 0 : delay.mean / 1e9
    delay.reset()
    return Effect.zipRight(
      Metric.set(residentMemory, process.memoryUsage.rss()),
      Metric.set(eventLoopLag, lagSeconds)
    )
  })
  yield* sample
  yield* restartOnFailure("process sampler", "observability", Effect.repeat(sample, Schedule.spaced("1 second")).pipe(Effect.asVoid))
}))
