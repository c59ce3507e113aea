// The core's metric families, registered at 0 when the core's observability layer is built
// (ProcessSampler.layer), so the first scrape of /metrics already has every one of them.
//
// Effect puts a metric into its registry only when it is first updated or read: a family nobody
// has touched yet is missing from /metrics, and a dashboard or an alert on it sees "no data"
// instead of 0. Each optional feature registers its own families the same way, from its own
// folder, when its layer is built (WsMetrics, JobMetrics; the breaker's gauge when it is made),
// so deleting a feature deletes its families with it.
//
// A family with labels needs at least one series to be exported; which one, per family:
// - http_requests_total, http_request_duration_seconds, http_requests_in_flight: see
//   HttpMetrics.register (GET /metrics 200, the series the first scrape creates anyway);
// - shutdown_phase_duration_seconds{phase}: every phase the core runs (CORE_SHUTDOWN_PHASES), at
//   0 until it has run; a feature's own phases (jobs-drain, ws-going-away) appear once they ran;
// - client_errors_total{kind}: the two refusals every public route can give (a bad request, no
//   such route), the kinds ErrorsMiddleware counts; other kinds appear when first seen;
// - fibers_owned, process_resident_memory_bytes, nodejs_eventloop_lag_seconds: no labels, and
//   already set before the first scrape (by the /metrics route and the sampler's first sample).
import { Effect, Metric } from "effect"
import * as NodeEdge from "../lifecycle/NodeEdge.js"
import * as Shutdown from "../lifecycle/Shutdown.js"
import * as HttpMetrics from "./HttpMetrics.js"

/** The phases DrainingServer and ShutdownRunner run in every shutdown (interrupt: only at the deadline). */
export const CORE_SHUTDOWN_PHASES = ["drain-delay", "close-listener", "drain", "interrupt", "release"] as const

/** The client-error kinds of the public API's own refusals (ErrorsMiddleware). */
export const CORE_CLIENT_ERROR_KINDS = ["http bad request", "http not found"] as const

export const register: Effect.Effect<void> = Effect.sync(() => {
  HttpMetrics.register()
  for (const phase of CORE_SHUTDOWN_PHASES) Metric.tagged(Shutdown.phaseDuration, "phase", phase).register()
  for (const kind of CORE_CLIENT_ERROR_KINDS) Metric.tagged(NodeEdge.clientErrors, "kind", kind).register()
})
