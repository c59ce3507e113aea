/**
 * The core's observability layer: registers the core's metric families (CoreMetrics), then
 * samples process figures into gauges: resident memory and event-loop lag.
 * Owns: a node event-loop delay monitor (enabled on acquire, disabled on release) and the
 *   supervised fiber that samples it every second.
 * Does not own: the gauges' exposition (the /metrics route reads the metric registry).
 * Released when: its layer's scope closes.
 */
import { Effect, Layer, Metric } from "effect"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { periodic, supervise } from "../lifecycle/Supervisor.js"
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
  yield* supervise("process sampler", "observability", periodic(sample, "1 second"))
}))
