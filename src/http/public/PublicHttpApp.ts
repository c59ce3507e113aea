/**
 * The public API served: HttpApiBuilder.serve's composition, with the API's app made by ApiRouter
 * (HttpApiBuilder's routes, found without a context scope per request), over whatever HttpServer the listener provides,
 * with what every public request goes through (the route gate and the error middleware, the body
 * bound) and the document routes (/openapi.json, /docs). The API and its handlers are composed
 * in src/App.ts; this module names no group.
 * Owns: the document and the docs page's router, made on their first request.
 * Does not own: the listener (App.ts's), or the services behind the handlers (the features').
 * Released when: the public listener's layers are released (the page's router with them).
 */
import {
  HttpApi,
  HttpApiBuilder,
  HttpApiSwagger,
  FileSystem,
  HttpIncomingMessage,
  HttpRouter,
  HttpServer,
  HttpServerResponse,
  OpenApi
} from "@effect/platform"
import { Context, Effect, Layer, Option } from "effect"
import * as NodeEdge from "../../lifecycle/NodeEdge.js"
import * as ServingContext from "../server/ServingContext.js"
import * as ApiDocument from "./ApiDocument.js"
import * as ApiRouter from "./ApiRouter.js"
import * as ErrorsMiddleware from "./ErrorsMiddleware.js"
import * as RouteGate from "./RouteGate.js"

export { MAX_BODY_BYTES } from "./ErrorsMiddleware.js"

/** Served beside the API's own routes (their GET is in the route gate's table too). */
const OPENAPI_PATH = "/openapi.json"
const DOCS_PATH = "/docs"

/** A body is cut off at MAX_BODY_BYTES when read. Provided once, to serve: the server runs every
 * request fiber with the services serve was called with, so no request pays for providing it
 * (issue 21: a provide per request was a context merge each). */
const bounded = Layer.succeed(HttpIncomingMessage.MaxBodySize, Option.some(FileSystem.Size(ErrorsMiddleware.MAX_BODY_BYTES)))

/** The middleware and document routes of the API being served; they share HttpApiBuilder's
 * Router and Middleware with `serve` and the handlers only within one Layer build (layers are
 * memoized per build). */
const extras = Layer.unwrapScoped(Effect.gen(function*() {
  const { api } = yield* HttpApi.Api
  const edge = yield* NodeEdge.make
  const gate = yield* RouteGate.make(RouteGate.table(api, [OPENAPI_PATH, DOCS_PATH]))
  return Layer.mergeAll(ErrorsMiddleware.layer(edge, gate), documentRoutes)
}))

/**
 * /openapi.json and /docs, made on their first request rather than at startup (issue 21: the
 * document of the whole API is the largest thing built before the first request could be served).
 * The document is made from the served API with our adjustments (ApiDocument); the page is the
 * platform's own (HttpApiSwagger), built then in a router of its own.
 */
const documentRoutes = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function*() {
    const served = yield* HttpApi.Api
    const documented = yield* Effect.cached(Effect.sync(() => ({ api: ApiDocument.documented(served.api), context: served.context })))
    const spec = yield* Effect.cached(Effect.map(documented, ({ api }) => OpenApi.fromApi(api)))
    yield* router.get(OPENAPI_PATH, Effect.flatMap(spec, (spec) => HttpServerResponse.json(spec)).pipe(Effect.orDie))
    // The page's router lives as long as the public app: its scope is this layer's.
    const scope = yield* Effect.scope
    const swaggerLive = HttpApiSwagger.layer({ path: DOCS_PATH }).pipe(
      Layer.provideMerge(HttpApiBuilder.Router.Live),
      Layer.provide(Layer.effect(HttpApi.Api, documented))
    )
    const page = yield* Effect.cached(
      Layer.buildWithScope(swaggerLive, scope).pipe(
        Effect.flatMap((context) => Context.get(context, HttpApiBuilder.Router).router),
        Effect.flatMap(HttpRouter.toHttpApp)
      )
    )
    yield* router.get(DOCS_PATH, Effect.flatten(page))
  })
)

/** The API of `handlers` (HttpApiBuilder.api(Api) with its groups' layers provided) served on
 * the HttpServer.HttpServer of the context. */
export const serve = <EH, RH>(handlers: Layer.Layer<HttpApi.Api, EH, RH>) =>
  Layer.unwrapEffect(Effect.map(ApiRouter.httpApp, (app) => HttpServer.serve(app))).pipe(
    // HttpApiBuilder.serve's own two: the handlers' layers share them within one build.
    Layer.provide([HttpApiBuilder.Router.Live, HttpApiBuilder.Middleware.layer]),
    Layer.provide(bounded),
    Layer.provide(extras),
    Layer.provide(handlers),
    Layer.provide(ServingContext.layer)
  )
