// HTTP metrics. Routes are labelled by template (/jobs/:id), never by raw path: one series per
// route, however many ids clients send.
//
// Hot path: one metric per label set is built once from a tagged MetricKey and updated
// synchronously. (Metric.tagged rebuilds its label array on every update, so Effect's hook cache
// misses and each update hashes the key into the registry: a third of the throughput.)
import { Metric, MetricBoundaries, MetricKey } from "effect"

const requestsTotalKey = MetricKey.counter("http_requests_total", {
  description: "HTTP requests answered, by method, route template and status.",
  incremental: true
})
const durationKey = MetricKey.histogram(
  "http_request_duration_seconds",
  MetricBoundaries.fromIterable([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]),
  "HTTP request duration in seconds, by route template."
)
const inFlight = Metric.gauge("http_requests_in_flight", { description: "HTTP requests being handled now." })

const counters = new Map<string, Metric.Metric.Counter<number>>()
const histograms = new Map<string, Metric.Metric.Histogram<number>>()

const counterFor = (method: string, route: string, status: number) => {
  const id = `${method} ${route} ${status}`
  let counter = counters.get(id)
  if (counter === undefined) {
    counter = Metric.fromMetricKey(
      requestsTotalKey.pipe(MetricKey.tagged("method", method), MetricKey.tagged("route", route), MetricKey.tagged("status", String(status)))
    )
    counters.set(id, counter)
  }
  return counter
}

const histogramFor = (route: string) => {
  let histogram = histograms.get(route)
  if (histogram === undefined) {
    histogram = Metric.fromMetricKey(MetricKey.tagged(durationKey, "route", route))
    histograms.set(route, histogram)
  }
  return histogram
}

/** The series exported before any request ends. The route labels are open-ended, so no zero
 * series can stand for all of them: the one chosen is GET /metrics 200 on the admin port, the
 * request certain to come (Prometheus's own scrape) and the series the first scrape creates
 * anyway, so pre-registering it adds no series that would not exist. In-flight starts at 0. */
export const register = (): void => {
  inFlight.register()
  counterFor("GET", "/metrics", 200).register()
  histogramFor("/metrics").register()
}

export const requestStarted = (): void => inFlight.unsafeModify(1, [])

/** Records one answered request; synchronous, for the request path. */
export const requestEnded = (method: string, route: string, status: number, seconds: number): void => {
  inFlight.unsafeModify(-1, [])
  counterFor(method, route, status).unsafeUpdate(1, [])
  histogramFor(route).unsafeUpdate(seconds, [])
}
