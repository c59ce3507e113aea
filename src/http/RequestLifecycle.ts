// Wraps an HttpApp so every request fiber is owned, bounded and answered:
// - the fiber joins the server's FiberSet (interrupted at the deadline) and the FiberRegistry;
// - the app runs interruptibly; REQUEST_TIMEOUT_MS later a node timer interrupts the request
//   fiber with its own FiberId (-> 503). Not Effect.timeout: that forks a fiber and a timer per
//   request and cost a third of the throughput;
// - interruption, failures and defects become JSON error responses; defects are logged with
//   their full cause and never leak to the client;
// - every response is labelled with its route template (WireMetrics counts it when it is on the
//   wire), carries x-trace-id, and every 429/503 carries Retry-After;
// - the requests in flight are counted by route template in the shutdown's book of what holds
//   the drain (GET /debug/shutdown);
// - one access line per request (method, route, status, durationMs, traceId, spanId): at info
//   with LOG_REQUESTS, else at debug. Whether it can be written at all is decided once per server
//   (see AccessLog); when it cannot, a request does no work for it.
import { HttpServerError, HttpServerRequest, HttpServerResponse, HttpTraceContext, type HttpApp } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Cause, Chunk, Clock, Context, DefaultServices, Effect, Equal, type Fiber, FiberId, FiberRef, FiberRefs, FiberSet, HashMap, HashSet, type LogLevel, Option, type Runtime, Tracer } from "effect"
import { AppConfig } from "../config/AppConfig.js"
import type { FiberRegistry } from "../lifecycle/FiberRegistry.js"
import type { Edge } from "../lifecycle/NodeEdge.js"
import { Shutdown } from "../lifecycle/Shutdown.js"
import * as AccessLog from "./AccessLog.js"
import type * as RequestHandler from "./server/RequestHandler.js"
import * as Upgrade from "./server/Upgrade.js"
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
  /** Where the in-flight book is contributed (GET /debug/shutdown); without it, the request
   * fiber's own Shutdown, if any. */
  readonly shutdown?: Context.Tag.Service<typeof Shutdown> | undefined
  /** The timeout timer is a callback Node calls: it goes through the server's edge. */
  readonly edge: Edge
}

/** The client is gone when its node response was destroyed (its socket closed before the end). */
const clientGone = (request: HttpServerRequest.HttpServerRequest) => NodeHttpServerRequest.toServerResponse(request).destroyed

const respondToFailure = (timeoutMs: number, request: HttpServerRequest.HttpServerRequest) =>
(cause: Cause.Cause<unknown>): Effect.Effect<HttpServerResponse.HttpServerResponse> => {
  // A route that took an upgrade and then failed leaves a socket nobody will answer (the answer
  // below is not written on a taken socket): close it, so the failure costs that socket only.
  const upgraded = NodeHttpServerRequest.toIncomingMessage(request)
  if (Upgrade.wasTaken(upgraded)) Upgrade.socketOf(upgraded)?.destroy()
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

/** WireMetrics' label for a request no route matched. */
const UNMATCHED = "unmatched"

/** The server span's attribute naming the route template the request matched (as HttpRouter's
 * own app names it). */
const ROUTE = "http.route"

/** Names the route the request of `context` matched on its server span: the label its metrics,
 * access line and in-flight count go by. Called by the routers (ApiRouter, RouteGate). */
export const unsafeNameRoute = (context: Context.Context<never>, path: string) => {
  const span = Context.getOption(context, Tracer.ParentSpan)
  if (span._tag === "Some" && span.value._tag === "Span") span.value.attribute(ROUTE, path)
}

/** The route template the router set on the server span; requests that matched no route share
 * one label (no label explosion), the one http_requests_total uses. */
const routeOf = (span: Tracer.Span): string => {
  const route = span.attributes.get(ROUTE)
  return route === undefined ? UNMATCHED : String(route)
}

/** The route template for the metrics, and the trace id for the client. */
const observe = (request: HttpServerRequest.HttpServerRequest, span: Tracer.Span) =>
(response: HttpServerResponse.HttpServerResponse): HttpServerResponse.HttpServerResponse => {
  const route = span.attributes.get(ROUTE)
  if (route !== undefined) WireMetrics.labelRoute(NodeHttpServerRequest.toServerResponse(request), String(route))
  span.attribute("http.response.status_code", response.status)
  return withRetryAfter(HttpServerResponse.setHeader(response, "x-trace-id", span.traceId))
}

/** Every 429 and 503 tells the client when to come back, unless its handler already did. */
const withRetryAfter = (response: HttpServerResponse.HttpServerResponse) => {
  if ((response.status !== 429 && response.status !== 503) || response.headers["retry-after"] !== undefined) return response
  return HttpServerResponse.setHeader(response, "retry-after", response.status === 429 ? "1" : "5")
}

/** In-flight requests by route template, read when GET /debug/shutdown asks. */
const byRoute = (inFlight: ReadonlySet<Tracer.Span>): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const span of inFlight) {
    const route = routeOf(span)
    counts[route] = (counts[route] ?? 0) + 1
  }
  return counts
}

/** Effect.makeSpan's work, decided once for a runtime (its tracer, clock, span annotations and
 * links, the parent it gives its fibers) and done per request without an operation: the parent
 * the client sent, else the inherited one. Undefined when tracing is off. */
const serverSpans = (runtime: Runtime.Runtime<never>): ((name: string, external: Option.Option<Tracer.AnySpan>) => Tracer.Span) | undefined => {
  const refs = <A>(ref: FiberRef.FiberRef<A>) => FiberRefs.getOrDefault(runtime.fiberRefs, ref)
  if (!refs(FiberRef.currentTracerEnabled)) return undefined
  const inherited = Option.filter(
    Context.getOption(runtime.context, Tracer.ParentSpan),
    (span) => span._tag !== "Span" || !Context.get(span.context, Tracer.DisablePropagation)
  )
  const services = refs(DefaultServices.currentServices)
  const tracer = Context.get(services, Tracer.Tracer)
  const clock = refs(FiberRef.currentTracerTimingEnabled) ? Context.get(services, Clock.Clock) : undefined
  const links = Chunk.toReadonlyArray(refs(FiberRef.currentTracerSpanLinks))
  const annotations = refs(FiberRef.currentTracerSpanAnnotations)
  return (name, external) => {
    const startTime = clock === undefined ? BigInt(0) : clock.unsafeCurrentTimeNanos()
    const span = tracer.span(name, Option.isSome(external) ? external : inherited, Context.empty(), links, startTime, "server", { kind: "server" })
    HashMap.forEach(annotations, (value, key) => span.attribute(key, value))
    return span
  }
}

const spanName = (request: HttpServerRequest.HttpServerRequest) => `http.server ${request.method}`

/** Where serverSpanFor leaves the span it made, beside ParentSpan: the lifecycle's first step
 * takes it from there instead of making one (a key of its own, so a parent span the runtime
 * carries is never mistaken for the request's). */
const PREPARED = "app/http/RequestLifecycle/ServerSpan"

/**
 * RequestHandler's Prepare: the server span, made in the node handler and put in the request's
 * context as its ParentSpan while the handler builds that context anyway (issue 21: adding it
 * from the fiber copied the context and the fiber's FiberRefs once more per request). Made from
 * the runtime the handler forks request fibers with, which is what the fiber would read.
 */
export const serverSpanFor: RequestHandler.Prepare = (runtime) => {
  const make = serverSpans(runtime)
  if (make === undefined) return undefined
  return (request, services) => {
    const span = make(spanName(request), HttpTraceContext.fromHeaders(request.headers))
    services.set(Tracer.ParentSpan.key, span)
    services.set(PREPARED, span)
  }
}

/** What one server decides once, from its first request's fiber (the runtime the server was
 * built with: its AppConfig, minimum log level and Shutdown). */
interface PerServer {
  /** Undefined: no access line can be written (LOG_REQUESTS off and LOG_LEVEL above debug). */
  readonly accessLevel: LogLevel.LogLevel | undefined
  readonly inFlight: Set<Tracer.Span>
}

const setUp = (
  owner: string,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  given: Context.Tag.Service<typeof Shutdown> | undefined
): PerServer => {
  const context = fiber.currentContext
  const logRequests = Option.exists(Context.getOption(context, AppConfig), (config) => config.logRequests)
  const inFlight = new Set<Tracer.Span>()
  const shutdown = given === undefined ? Context.getOption(context, Shutdown) : Option.some(given)
  // The contribution stays for the program's life: once this server has drained it counts nothing.
  if (Option.isSome(shutdown)) shutdown.value.holders.unsafeAdd(owner, () => ({ requests: byRoute(inFlight) }))
  return { accessLevel: AccessLog.levelFor(logRequests, fiber.getFiberRef(FiberRef.currentMinimumLogLevel)), inFlight }
}

export const withRequestLifecycle = <E, R>(
  app: HttpApp.Default<E, R>,
  options: RequestLifecycleOptions
): HttpApp.Default<never, R> => {
  const serverName = options.owner.startsWith("http.") ? options.owner.slice("http.".length) : options.owner
  let perServer: PerServer | undefined
  const respond = (request: HttpServerRequest.HttpServerRequest) => respondToFailure(options.timeoutMs, request)
  // The bookkeeping is synchronous, in the request fiber's first step and its exit observer: no
  // finalizer, no registry wrapper, no useSpan scope per request (issue 21).
  return Effect.withFiberRuntime((fiber) => {
    const request = Context.unsafeGet(fiber.currentContext, HttpServerRequest.HttpServerRequest)
    FiberSet.unsafeAdd(options.requests, fiber)
    const { accessLevel, inFlight } = perServer ??= setUp(options.owner, fiber, options.shutdown)
    const startedAt = accessLevel === undefined ? 0 : performance.now()
    // If interrupting ever threw, the request would run unbounded: close its socket instead.
    const timer = setTimeout(
      options.edge.guard(
        "request timeout timer",
        () => {
          // A taken upgrade is a session now: its end is its route's business, not a timeout.
          if (!Upgrade.wasTaken(NodeHttpServerRequest.toIncomingMessage(request))) fiber.unsafeInterruptAsFork(requestTimeoutFiberId)
        },
        () => NodeHttpServerRequest.toServerResponse(request).destroy()
      ),
      options.timeoutMs
    )
    const path = pathOf(request.url)
    const untrack = options.registry.unsafeTrack(fiber, `${request.method} ${path}`, options.owner)
    const prepared = fiber.currentContext.unsafeMap.get(PREPARED) as Tracer.Span | undefined
    const withSpan = (span: Tracer.Span, inContext: boolean) => {
      span.attribute("http.request.method", request.method)
      span.attribute("url.path", path)
      inFlight.add(span)
      const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
      // The whole fiber, its response written too: then nothing of it is left anywhere.
      fiber.addObserver((exit) => {
        clearTimeout(timer)
        untrack()
        inFlight.delete(span)
        span.end(clock.unsafeCurrentTimeNanos(), exit)
      })
      // Answered: the timeout no longer applies (the response is being written).
      const answer = (response: HttpServerResponse.HttpServerResponse) => {
        clearTimeout(timer)
        return observe(request, span)(response)
      }
      // The span is the parent of everything the request fiber does from here, so it goes in
      // the fiber's own context (serverSpanFor put it there before the fiber started; otherwise
      // it is added now): Effect.withParentSpan would scope it (a context copy plus an
      // acquire/use/release) around a fiber that ends with the request anyway.
      const answered = (inContext ? app : FiberRef.update(FiberRef.currentContext, (context) => Context.add(context, Tracer.ParentSpan, span)).pipe(
        Effect.zipRight(app)
      )).pipe(
        Effect.interruptible,
        // One continuation for both outcomes (catchAllCause then map would be two).
        Effect.matchCauseEffect({ onFailure: (cause) => Effect.map(respond(request)(cause), answer), onSuccess: (response) => Effect.succeed(answer(response)) })
      )
      if (accessLevel === undefined) return answered
      return Effect.tap(answered, (response) =>
        AccessLog.write(accessLevel, {
          server: serverName,
          method: request.method,
          route: routeOf(span),
          status: response.status,
          durationMs: AccessLog.since(startedAt)
        }))
    }
    if (prepared !== undefined) return withSpan(prepared, true)
    // Tracing off (Effect.makeSpan's no-op span), or served without serverSpanFor.
    return Effect.flatMap(
      Effect.makeSpan(spanName(request), { parent: Option.getOrUndefined(HttpTraceContext.fromHeaders(request.headers)), kind: "server", captureStackTrace: false }),
      (span) => withSpan(span, false)
    )
  })
}
