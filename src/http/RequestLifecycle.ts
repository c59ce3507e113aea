// Wraps an HttpApp so every request fiber is owned, bounded and answered:
// - the fiber joins the server's FiberSet (interrupted at the deadline) and the FiberRegistry;
// - the app runs interruptibly under REQUEST_TIMEOUT_MS (timeout -> 503);
// - interruption, failures and defects become JSON error responses; defects are logged with
//   their full cause and never leak to the client.
import { HttpServerError, HttpServerRequest, HttpServerResponse, type HttpApp } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Cause, type Context, Data, Effect, FiberSet, Option } from "effect"
import * as HttpMetrics from "../observability/HttpMetrics.js"
import type { FiberRegistry } from "../lifecycle/FiberRegistry.js"
import { errorResponse } from "./ErrorResponse.js"

export class RequestTimeout extends Data.TaggedError("RequestTimeout")<{ readonly timeoutMs: number }> {}

export interface RequestLifecycleOptions {
  readonly owner: string
  readonly timeoutMs: number
  readonly requests: FiberSet.FiberSet
  readonly registry: Context.Tag.Service<typeof FiberRegistry>
}

/** The client is gone when its node response was destroyed (socket closed before the end). The
 * interrupting fiber id cannot tell: the app runs in timeoutFail's child fiber. */
const clientGone = (request: HttpServerRequest.HttpServerRequest) => NodeHttpServerRequest.toServerResponse(request).destroyed

const respondToFailure = (timeoutMs: number, request: HttpServerRequest.HttpServerRequest) =>
(cause: Cause.Cause<unknown>): Effect.Effect<HttpServerResponse.HttpServerResponse> => {
  if (Cause.isInterruptedOnly(cause)) {
    return clientGone(request)
      // Nobody will read it: an empty 499 (no body, so nothing waits on a dead socket).
      ? Effect.as(Effect.logDebug("client closed the connection; request interrupted"), HttpServerResponse.empty({ status: 499 }))
      : Effect.as(
        Effect.logWarning("request interrupted at the shutdown deadline"),
        errorResponse(503, "ShuttingDown", "the service is shutting down", { "retry-after": "5" })
      )
  }
  const failure = Cause.failureOption(cause)
  if (failure._tag === "Some" && Cause.isEmpty(Cause.stripFailures(cause))) {
    const error = failure.value
    if (error instanceof RequestTimeout) {
      return Effect.as(
        Effect.logWarning("request timed out").pipe(Effect.annotateLogs({ timeoutMs })),
        errorResponse(503, "RequestTimeout", `the request did not finish within ${timeoutMs} ms`)
      )
    }
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

/** Metrics by route template (set on the server span by the router), and the trace id for
 * the client. Requests that matched no route share one label: no label explosion. */
const observe = (request: HttpServerRequest.HttpServerRequest, startedAt: number) =>
(response: HttpServerResponse.HttpServerResponse) =>
  Effect.flatMap(Effect.option(Effect.currentSpan), (span) => {
    const route = Option.isSome(span) ? String(span.value.attributes.get("http.route") ?? "unmatched") : "unmatched"
    const seconds = (performance.now() - startedAt) / 1000
    return Effect.as(
      Effect.zipRight(HttpMetrics.countRequest(request.method, route, response.status), HttpMetrics.observeDuration(route, seconds)),
      Option.isSome(span) ? HttpServerResponse.setHeader(response, "x-trace-id", span.value.traceId) : response
    )
  })

export const withRequestLifecycle = <E, R>(
  app: HttpApp.Default<E, R>,
  options: RequestLifecycleOptions
): HttpApp.Default<never, R> => {
  return Effect.withFiberRuntime((fiber) => {
    FiberSet.unsafeAdd(options.requests, fiber)
    const startedAt = performance.now()
    return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
      app.pipe(
        Effect.interruptible,
        Effect.timeoutFail({ duration: options.timeoutMs, onTimeout: () => new RequestTimeout({ timeoutMs: options.timeoutMs }) }),
        Effect.catchAllCause(respondToFailure(options.timeoutMs, request)),
        Effect.flatMap(observe(request, startedAt)),
        HttpMetrics.countedInFlight,
        options.registry.track(`${request.method} ${pathOf(request.url)}`, options.owner)
      ))
  })
}
