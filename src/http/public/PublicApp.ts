// The public API's handlers and its composition into one HttpApp for OwnedServer.
import { HttpApiBuilder, HttpApiSwagger, type HttpApp, HttpIncomingMessage, type HttpRouter } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { type Context, Effect, Layer, Option } from "effect"
import * as NodeEdge from "../../lifecycle/NodeEdge.js"
import { Shutdown } from "../../lifecycle/Shutdown.js"
import { Api } from "./Api.js"
import * as ApiDocument from "./ApiDocument.js"
import { Draining, NotReady } from "./ApiErrors.js"
import * as ErrorsMiddleware from "./ErrorsMiddleware.js"
import type { Contribution, ReadinessCheck } from "./PublicRoutes.js"
import * as RouteGate from "./RouteGate.js"

export { MAX_BODY_BYTES } from "./ErrorsMiddleware.js"

const healthLive = (readiness: ReadonlyArray<ReadinessCheck>) =>
  HttpApiBuilder.group(Api, "health", (handlers) =>
    Effect.gen(function*() {
      const shutdown = yield* Shutdown
      const notReady = () => {
        for (const check of readiness) {
          const reason = check.unsafeNotReady()
          if (reason !== undefined) return reason
        }
        return undefined
      }
      return handlers
        .handle("healthz", () => Effect.succeed({ status: "ok" as const }))
        .handle("readyz", () => {
          if (shutdown.unsafeIsShuttingDown()) return Effect.fail(new Draining({ status: "draining" }))
          const reason = notReady()
          return reason === undefined ? Effect.succeed({ status: "ready" as const }) : Effect.fail(new NotReady({ status: "not ready", reason }))
        })
    }))

const WorkLive = HttpApiBuilder.group(Api, "work", (handlers) =>
  handlers.handle("sleep", ({ urlParams: { ms } }) =>
    Effect.sleep(ms).pipe(
      Effect.as({ sleptMs: ms }),
      // Interruption is not an error: observe it (this line proves the handler's finalizers ran).
      Effect.onInterrupt(() => Effect.logInfo("sleep interrupted").pipe(Effect.annotateLogs({ ms })))
    )))

/** Served beside the API's own routes (their GET is in the route gate's table too). */
const OPENAPI_PATH = "/openapi.json"
const DOCS_PATH = "/docs"

/** The public HttpApp: the core routes plus the contributed groups, with every service it needs
 * already provided (R = never). */
export const make = (contributions: ReadonlyArray<Contribution>, readiness: ReadonlyArray<ReadinessCheck> = []) =>
  Effect.gen(function*() {
    for (const { group } of contributions) {
      if (group.identifier in Api.groups) return yield* Effect.dieMessage(`PublicApp: a feature's group is named "${group.identifier}", like a core group`)
    }
    // The served API is only known here: HttpApi's types cannot follow a list built at startup.
    // Its document is made once it is whole (an operation lists what its own endpoint declares).
    const api: typeof Api = ApiDocument.documented(contributions.reduce((api, { group }) => api.add(group) as any, Api)) as any
    const ApiLive = HttpApiBuilder.api(api).pipe(
      Layer.provide([healthLive(readiness), WorkLive, ...contributions.map(({ handlers }) => handlers)])
    )
    const edge = yield* NodeEdge.make
    const gate = yield* RouteGate.make(RouteGate.table(api, [OPENAPI_PATH, DOCS_PATH]))
    // Built together: the middleware, groups and docs share one Router/Middleware only within one build.
    const PublicAppLive = Layer.mergeAll(
      ApiLive,
      ErrorsMiddleware.layer(edge, gate),
      HttpApiBuilder.middlewareOpenApi({ path: OPENAPI_PATH }),
      HttpApiSwagger.layer({ path: DOCS_PATH }),
      HttpApiBuilder.Router.Live,
      HttpApiBuilder.Middleware.layer
    ).pipe(Layer.provide(ApiLive), Layer.provideMerge(NodeHttpServer.layerContext))
    const services = yield* Effect.context<Shutdown>()
    const context = yield* Layer.build(PublicAppLive.pipe(Layer.provide(Layer.succeedContext(services))))
    const app = yield* Effect.provide(HttpApiBuilder.httpApp, context)
    const defaults: Context.Context<HttpRouter.HttpRouter.DefaultServices> = context
    return app.pipe(
      Effect.provide(defaults),
      HttpIncomingMessage.withMaxBodySize(Option.some(ErrorsMiddleware.MAX_BODY_BYTES))
    ) satisfies HttpApp.Default<never, unknown>
  })
