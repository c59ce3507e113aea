// HTTP metrics. Routes are labelled by template (/jobs/:id), never by raw path: one series per
// route, however many ids clients send. Tagged metrics are cached so a request allocates none.
import { Effect, Metric, MetricBoundaries } from "effect"

const requestsTotal = Metric.counter("http_requests_total", {
  description: "HTTP requests answered, by method, route template and status.",
  incremental: true
})
const requestDuration = Metric.histogram(
  "http_request_duration_seconds",
  MetricBoundaries.fromIterable([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]),
  "HTTP request duration in seconds, by route template."
)
const requestsInFlight = Metric.gauge("http_requests_in_flight", {
  description: "HTTP requests being handled now."
})

/** Counts `self` in http_requests_in_flight while it runs, however it ends. */
export const countedInFlight = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(Metric.increment(requestsInFlight), () => self, () => Metric.incrementBy(requestsInFlight, -1))

const counters = new Map<string, Metric.Metric.Counter<number>>()
const histograms = new Map<string, Metric.Metric.Histogram<number>>()

export const countRequest = (method: string, route: string, status: number) => {
  const key = `${method} ${route} ${status}`
  let counter = counters.get(key)
  if (counter === undefined) {
    counter = requestsTotal.pipe(Metric.tagged("method", method), Metric.tagged("route", route), Metric.tagged("status", String(status)))
    counters.set(key, counter)
  }
  return Metric.increment(counter)
}

export const observeDuration = (route: string, seconds: number) => {
  let histogram = histograms.get(route)
  if (histogram === undefined) {
    histogram = Metric.tagged(requestDuration, "route", route)
    histograms.set(route, histogram)
  }
  return Metric.update(histogram, seconds)
}
