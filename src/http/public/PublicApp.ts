// The public API's handlers and its composition into one HttpApp for OwnedServer.
import {
  HttpApiBuilder,
  HttpApiError,
  HttpApiSwagger,
  type HttpApp,
  type HttpRouter,
  HttpServerError
} from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Cause, type Context, Effect, Layer, Option } from "effect"
import { Shutdown } from "../../lifecycle/Shutdown.js"
import { Api } from "./Api.js"
import { BadRequest, Draining, InternalServerError, NotFound } from "./ApiErrors.js"

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

const describeIssues = (error: HttpApiError.HttpApiDecodeError) =>
  error.issues.map((issue) => `${issue.path.length > 0 ? `${issue.path.join(".")}: ` : ""}${issue.message}`).join("; ")

/** Runs inside the API, before its error schema encodes: the place to reshape framework errors. */
const ErrorsLive = HttpApiBuilder.middleware(Api, (app) =>
  Effect.catchAllCause(app, (cause): Effect.Effect<never, BadRequest | NotFound | InternalServerError> => {
    if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
    // The app is typed HttpApp.Default<never>, but framework errors travel in its cause.
    const failure: Option.Option<unknown> = Cause.failureOption(cause)
    if (Option.isSome(failure)) {
      const error = failure.value
      if (error instanceof HttpApiError.HttpApiDecodeError) return new BadRequest({ message: describeIssues(error) })
      if (error instanceof HttpServerError.RouteNotFound) {
        return new NotFound({ message: `no route for ${error.request.method} ${new URL(error.request.url, "http://x").pathname}` })
      }
      return Effect.failCause(cause)
    }
    return Effect.zipRight(
      Effect.logError("request failed with a defect", cause),
      new InternalServerError({ message: "internal error" })
    )
  }))

const ApiLive = HttpApiBuilder.api(Api).pipe(Layer.provide([HealthLive, WorkLive]))

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
  const shutdown = yield* Shutdown
  const context = yield* Layer.build(PublicAppLive.pipe(Layer.provide(Layer.succeed(Shutdown, shutdown))))
  const app = yield* Effect.provide(HttpApiBuilder.httpApp, context)
  const services: Context.Context<HttpRouter.HttpRouter.DefaultServices> = context
  return Effect.provide(app, services) satisfies HttpApp.Default<never, unknown>
})
