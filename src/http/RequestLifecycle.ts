// Wraps an HttpApp so every request fiber is owned, bounded and answered:
// - the fiber joins the server's FiberSet (interrupted at the deadline) and the FiberRegistry;
// - the app runs interruptibly; REQUEST_TIMEOUT_MS later a node timer interrupts the request
//   fiber with its own FiberId (-> 503). Not Effect.timeout: that forks a fiber and a timer per
//   request and cost a third of the throughput;
// - interruption, failures and defects become JSON error responses; defects are logged with
//   their full cause and never leak to the client;
// - every response is labelled with its route template (WireMetrics counts it when it is on the
//   wire), carries x-trace-id, and every 429/503 carries Retry-After.
import { HttpServerError, HttpServerRequest, HttpServerResponse, HttpTraceContext, type HttpApp } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Cause, type Context, Effect, Equal, FiberId, FiberSet, HashSet, Option, type Tracer } from "effect"
import type { FiberRegistry } from "../lifecycle/FiberRegistry.js"
import type { Edge } from "../lifecycle/NodeEdge.js"
import { errorResponse } from "./ErrorResponse.js"
import * as WireMetrics from "./WireMetrics.js"

/** The interruptor of a request that ran past REQUEST_TIMEOUT_MS (as platform-node's
 * clientAbortFiberId marks a client that went away). */
export const requestTimeoutFiberId = FiberId.runtime(-408, 0)

const timedOut = (cause: Cause.Cause<unknown>) =>
  HashSet.some(Cause.interruptors(cause), (id) => Equal.equals(id, requestTimeoutFiberId))

export interface RequestLifecycleOptions {
  readonly owner: string
  readonly timeoutMs: number
  readonly requests: FiberSet.FiberSet
  readonly registry: Context.Tag.Service<typeof FiberRegistry>
  /** The timeout timer is a callback Node calls: it goes through the server's edge. */
  readonly edge: Edge
}

/** The client is gone when its node response was destroyed (its socket closed before the end). */
const clientGone = (request: HttpServerRequest.HttpServerRequest) => NodeHttpServerRequest.toServerResponse(request).destroyed

const respondToFailure = (timeoutMs: number, request: HttpServerRequest.HttpServerRequest) =>
(cause: Cause.Cause<unknown>): Effect.Effect<HttpServerResponse.HttpServerResponse> => {
  if (Cause.isInterruptedOnly(cause)) {
    if (clientGone(request)) {
      // Nobody will read it: an empty 499 (no body, so nothing waits on a dead socket).
      return Effect.as(Effect.logDebug("client closed the connection; request interrupted"), HttpServerResponse.empty({ status: 499 }))
    }
    if (timedOut(cause)) {
      return Effect.as(
        Effect.logWarning("request timed out").pipe(Effect.annotateLogs({ timeoutMs })),
        errorResponse(503, "RequestTimeout", `the request did not finish within ${timeoutMs} ms`)
      )
    }
    return Effect.as(
      Effect.logWarning("request interrupted at the shutdown deadline"),
      errorResponse(503, "ShuttingDown", "the service is shutting down", { "retry-after": "5" })
    )
  }
  const failure = Cause.failureOption(cause)
  if (failure._tag === "Some" && Cause.isEmpty(Cause.stripFailures(cause))) {
    const error = failure.value
    if (HttpServerError.isServerError(error) && error._tag === "RouteNotFound") {
      return Effect.succeed(errorResponse(404, "NotFound", "no such route"))
    }
    if (HttpServerError.isServerError(error) && error._tag === "RequestError") {
      return Effect.succeed(errorResponse(400, "BadRequest", "the request could not be read"))
    }
  }
  return Effect.as(
    Effect.logError("request failed with a defect", cause),
    errorResponse(500, "InternalServerError", "internal error")
  )
}

const pathOf = (url: string) => {
  const query = url.indexOf("?")
  return query === -1 ? url : url.slice(0, query)
}

/** The route template for the metrics (the router sets http.route on the server span), and the
 * trace id for the client. Requests that matched no route share one label: no label explosion. */
const observe = (request: HttpServerRequest.HttpServerRequest, span: Tracer.Span) =>
(response: HttpServerResponse.HttpServerResponse): HttpServerResponse.HttpServerResponse => {
  const route = span.attributes.get("http.route")
  if (route !== undefined) WireMetrics.labelRoute(NodeHttpServerRequest.toServerResponse(request), String(route))
  span.attribute("http.response.status_code", response.status)
  return withRetryAfter(HttpServerResponse.setHeader(response, "x-trace-id", span.traceId))
}

/** Every 429 and 503 tells the client when to come back, unless its handler already did. */
const withRetryAfter = (response: HttpServerResponse.HttpServerResponse) => {
  if ((response.status !== 429 && response.status !== 503) || response.headers["retry-after"] !== undefined) return response
  return HttpServerResponse.setHeader(response, "retry-after", response.status === 429 ? "1" : "5")
}

export const withRequestLifecycle = <E, R>(
  app: HttpApp.Default<E, R>,
  options: RequestLifecycleOptions
): HttpApp.Default<never, R> => {
  return Effect.withFiberRuntime((fiber) => {
    FiberSet.unsafeAdd(options.requests, fiber)
    return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      // If interrupting ever threw, the request would run unbounded: close its socket instead.
      const timer = setTimeout(
        options.edge.guard(
          "request timeout timer",
          () => fiber.unsafeInterruptAsFork(requestTimeoutFiberId),
          () => NodeHttpServerRequest.toServerResponse(request).destroy()
        ),
        options.timeoutMs
      )
      const path = pathOf(request.url)
      return Effect.useSpan(`http.server ${request.method}`, {
        parent: Option.getOrUndefined(HttpTraceContext.fromHeaders(request.headers)),
        kind: "server",
        captureStackTrace: false
      }, (span) => {
        span.attribute("http.request.method", request.method)
        span.attribute("url.path", path)
        return app.pipe(
          Effect.withParentSpan(span),
          Effect.interruptible,
          Effect.catchAllCause(respondToFailure(options.timeoutMs, request)),
          Effect.map(observe(request, span))
        )
      }).pipe(
        Effect.ensuring(Effect.sync(() => clearTimeout(timer))),
        options.registry.track(`${request.method} ${path}`, options.owner)
      )
    })
  })
}
