// The public API's handlers and its composition into one HttpApp for OwnedServer.
import {
  HttpApiBuilder,
  HttpApiError,
  HttpApiSwagger,
  type HttpApp,
  HttpIncomingMessage,
  type HttpRouter,
  HttpServerError,
  HttpServerRequest
} from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Cause, type Context, Effect, Layer, Option } from "effect"
import { Shutdown } from "../../lifecycle/Shutdown.js"
import { Api } from "./Api.js"
import { JobStore } from "../../jobs/JobStore.js"
import { WorkerPool } from "../../jobs/WorkerPool.js"
import { Upstream } from "../../resilience/Upstream.js"
import {
  BadRequest,
  Draining,
  InternalServerError,
  NotFound,
  PayloadTooLarge,
  QueueFull,
  ShuttingDown,
  CircuitOpen,
  UpstreamNotConfigured,
  UpstreamUnavailable
} from "./ApiErrors.js"

const HealthLive = HttpApiBuilder.group(Api, "health", (handlers) =>
  Effect.gen(function*() {
    const shutdown = yield* Shutdown
    return handlers
      .handle("healthz", () => Effect.succeed({ status: "ok" as const }))
      .handle("readyz", () =>
        shutdown.isShuttingDown()
          ? Effect.fail(new Draining({ status: "draining" }))
          : Effect.succeed({ status: "ready" as const }))
  }))

const WorkLive = HttpApiBuilder.group(Api, "work", (handlers) =>
  handlers.handle("sleep", ({ urlParams: { ms } }) =>
    Effect.sleep(ms).pipe(
      Effect.as({ sleptMs: ms }),
      // Interruption is not an error: observe it (this line proves the handler's finalizers ran).
      Effect.onInterrupt(() => Effect.logInfo("sleep interrupted").pipe(Effect.annotateLogs({ ms })))
    )))

const JobsLive = HttpApiBuilder.group(Api, "jobs", (handlers) =>
  Effect.gen(function*() {
    const pool = yield* WorkerPool
    const store = yield* JobStore
    return handlers
      .handle("submit", ({ payload }) =>
        pool.submit(payload).pipe(
          Effect.map((job) => ({ id: job.id })),
          Effect.catchTags({
            QueueFull: ({ capacity }) => new QueueFull({ message: `the job queue is full (${capacity} waiting); retry later` }),
            PoolClosed: () => new ShuttingDown({ message: "the service is shutting down" }),
            JobStoreClosed: () => new ShuttingDown({ message: "the service is shutting down" }),
            // The journal could not be written: nothing was accepted; a defect, logged with its cause.
            JobStoreError: (error) => Effect.die(error)
          })
        ))
      .handle("get", ({ path: { id } }) =>
        Option.match(store.get(id), {
          onNone: () => Effect.fail(new NotFound({ message: `no job ${id}` })),
          onSome: (job) => Effect.succeed(job)
        }))
  }))

const UpstreamLive = HttpApiBuilder.group(Api, "upstream", (handlers) =>
  Effect.gen(function*() {
    const upstream = yield* Upstream
    return handlers.handle("get", () =>
      upstream.call("GET").pipe(
        // A client gone, a request timeout or the shutdown deadline: the call is cut, not awaited.
        Effect.onInterrupt(() => Effect.logInfo("upstream call interrupted")),
        Effect.map((body) => ({ upstream: body })),
        Effect.catchTags({
          UpstreamNotConfigured: () => new UpstreamNotConfigured({ message: "UPSTREAM_URL is not set" }),
          CircuitOpen: ({ retryAfterMs }) =>
            new CircuitOpen({ message: `the upstream is failing; not calling it for ${Math.ceil(retryAfterMs / 1000)} s` }),
          UpstreamError: (error) => new UpstreamUnavailable({ message: error.message })
        })
      ))
  }))

/** 1 MiB: bodies are refused from Content-Length before they are read, and cut off when read. */
export const MAX_BODY_BYTES = 1024 * 1024

const describeIssues = (error: HttpApiError.HttpApiDecodeError) =>
  error.issues.map((issue) => `${issue.path.length > 0 ? `${issue.path.join(".")}: ` : ""}${issue.message}`).join("; ")

/** Runs inside the API, before its error schema encodes: the place to reshape framework errors. */
const tooLarge = new PayloadTooLarge({ message: `the request body is larger than ${MAX_BODY_BYTES} bytes` })

const unreadableBody = (error: HttpServerError.RequestError) => {
  const reason = error.cause instanceof Error ? error.cause.message : ""
  return Effect.fail(
    reason === "maxBytes exceeded" ? tooLarge : new BadRequest({ message: `the request body could not be read: ${reason || error.reason}` })
  )
}

const ErrorsLive = HttpApiBuilder.middleware(Api, (app) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    Number(request.headers["content-length"] ?? 0) > MAX_BODY_BYTES ? Effect.fail(tooLarge) : app
  ).pipe(Effect.catchAllCause((cause): Effect.Effect<never, BadRequest | NotFound | PayloadTooLarge | InternalServerError> => {
    if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
    // The app is typed HttpApp.Default<never>, but framework errors travel in its cause.
    const failure: Option.Option<unknown> = Cause.failureOption(cause)
    if (Option.isSome(failure)) {
      const error = failure.value
      if (error instanceof HttpApiError.HttpApiDecodeError) return new BadRequest({ message: describeIssues(error) })
      if (error instanceof HttpServerError.RouteNotFound) {
        return new NotFound({ message: `no route for ${error.request.method} ${new URL(error.request.url, "http://x").pathname}` })
      }
      if (error instanceof HttpServerError.RequestError) return unreadableBody(error)
      return Effect.failCause(cause)
    }
    // HttpApiBuilder turns a body it cannot read (bad JSON, too large) into a defect.
    const defect = Cause.dieOption(cause)
    if (Option.isSome(defect) && defect.value instanceof HttpServerError.RequestError) return unreadableBody(defect.value)
    return Effect.zipRight(
      Effect.logError("request failed with a defect", cause),
      new InternalServerError({ message: "internal error" })
    )
  })))

const ApiLive = HttpApiBuilder.api(Api).pipe(Layer.provide([HealthLive, WorkLive, JobsLive, UpstreamLive]))

// Built together: the middleware, groups and docs share one Router/Middleware only within one build.
const PublicAppLive = Layer.mergeAll(
  ApiLive,
  ErrorsLive,
  HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" }),
  HttpApiSwagger.layer({ path: "/docs" }),
  HttpApiBuilder.Router.Live,
  HttpApiBuilder.Middleware.layer
).pipe(Layer.provide(ApiLive), Layer.provideMerge(NodeHttpServer.layerContext))

/** The public HttpApp with every service it needs already provided (R = never). */
export const make = Effect.gen(function*() {
  const services = yield* Effect.context<Shutdown | WorkerPool | JobStore | Upstream>()
  const context = yield* Layer.build(PublicAppLive.pipe(Layer.provide(Layer.succeedContext(services))))
  const app = yield* Effect.provide(HttpApiBuilder.httpApp, context)
  const defaults: Context.Context<HttpRouter.HttpRouter.DefaultServices> = context
  return app.pipe(
    Effect.provide(defaults),
    HttpIncomingMessage.withMaxBodySize(Option.some(MAX_BODY_BYTES))
  ) satisfies HttpApp.Default<never, unknown>
})
