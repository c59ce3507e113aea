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
import { BadRequest, Draining, InternalServerError, NotFound, PayloadTooLarge } from "./ApiErrors.js"
import type { Contribution } from "./PublicRoutes.js"

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

/** The public HttpApp: the core routes plus the contributed groups, with every service it needs
 * already provided (R = never). */
export const make = (contributions: ReadonlyArray<Contribution>) =>
  Effect.gen(function*() {
    for (const { group } of contributions) {
      if (group.identifier in Api.groups) return yield* Effect.dieMessage(`PublicApp: a feature's group is named "${group.identifier}", like a core group`)
    }
    // The served API is only known here: HttpApi's types cannot follow a list built at startup.
    const api: typeof Api = contributions.reduce((api, { group }) => api.add(group) as any, Api)
    const ApiLive = HttpApiBuilder.api(api).pipe(
      Layer.provide([HealthLive, WorkLive, ...contributions.map(({ handlers }) => handlers)])
    )
    // Built together: the middleware, groups and docs share one Router/Middleware only within one build.
    const PublicAppLive = Layer.mergeAll(
      ApiLive,
      ErrorsLive,
      HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" }),
      HttpApiSwagger.layer({ path: "/docs" }),
      HttpApiBuilder.Router.Live,
      HttpApiBuilder.Middleware.layer
    ).pipe(Layer.provide(ApiLive), Layer.provideMerge(NodeHttpServer.layerContext))
    const services = yield* Effect.context<Shutdown>()
    const context = yield* Layer.build(PublicAppLive.pipe(Layer.provide(Layer.succeedContext(services))))
    const app = yield* Effect.provide(HttpApiBuilder.httpApp, context)
    const defaults: Context.Context<HttpRouter.HttpRouter.DefaultServices> = context
    return app.pipe(
      Effect.provide(defaults),
      HttpIncomingMessage.withMaxBodySize(Option.some(MAX_BODY_BYTES))
    ) satisfies HttpApp.Default<never, unknown>
  })
