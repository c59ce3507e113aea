/**
 * The public API's HttpApp, made once from what HttpApiBuilder collected: the routes its groups
 * put in HttpApiBuilder.Router (the same route objects, so the same handlers, decoders and
 * encoders), the API-level middleware (ErrorsMiddleware) and the API's error encoding
 * (HttpApiBuilder.buildMiddleware). What differs from HttpApiBuilder.httpApp is only how a request
 * finds its route (issue 21): the platform's HttpRouter.toHttpApp wraps every request in
 * Effect.locally (an acquireUseRelease region: about ten operations) to give the handler the route
 * context; here the request fiber's context is replaced once, without a restore, because the fiber
 * ends with the request (as RequestLifecycle does for the server span). Path matching is the
 * platform's own (find-my-way-ts, with HttpRouter.currentRouterConfig), so params, case and
 * trailing slashes match exactly as RouteGate's router matches them.
 * Owns: nothing (a function of the router it is given).
 * Does not own: the routes (the groups' layers put them there), the services the handlers use.
 * Released when: nothing to release (the app is dropped with the server that serves it).
 */
import {
  HttpApi,
  HttpApiBuilder,
  type HttpApp,
  HttpRouter,
  HttpServerError,
  HttpServerRequest,
  HttpServerRespondable,
  type HttpServerResponse
} from "@effect/platform"
import { Chunk, Context, Effect, FiberRef } from "effect"
import * as FindMyWay from "find-my-way-ts"
import { unsafeNameRoute } from "../RequestLifecycle.js"
import * as RequestHandler from "../server/RequestHandler.js"
import * as ApiGroup from "./ApiGroup.js"

type Route = HttpRouter.Route<unknown, unknown>

/** A route with what it runs, built once at startup: the handler, its answer made a response, and
 * interruptible unless the route was declared uninterruptible. */
interface Compiled {
  readonly route: Route
  readonly run: Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, unknown>
  /** The services of the layer that built the route (ApiGroup), added to the request's context
   * where it has no service of the same key (as Context.merge(group, request) would). */
  readonly services: ReadonlyArray<readonly [string, unknown]>
}

const compile = (route: Route): Compiled => {
  const responded = Effect.flatMap(route.handler, HttpServerRespondable.toResponse)
  const services = ApiGroup.contextOf(route.handler)
  return {
    route,
    run: route.uninterruptible ? responded : Effect.interruptible(responded),
    services: services === undefined ? [] : Array.from(services.unsafeMap)
  }
}

const sliceRequestUrl = (request: HttpServerRequest.HttpServerRequest, prefix: string) =>
  request.modify({ url: request.url.length <= prefix.length ? "/" : request.url.slice(prefix.length) })

/** Where a router's RequestHandler.Prepare leaves the route it found, for its app to run: one key
 * per router, so no other router takes it for its own. */
let routers = 0

const find = (matcher: FindMyWay.Router<Compiled>, request: HttpServerRequest.HttpServerRequest) =>
  matcher.find(request.method, request.url) ?? (request.method === "HEAD" ? matcher.find("GET", request.url) : undefined)

/** What the route adds to the request's context: the group's services where it has none of the
 * same key (as Context.merge(group, request) would), its search params and its route context. */
const addRoute = (
  services: Map<string, unknown>,
  found: FindMyWay.FindResult<Compiled>,
  groupServices: ReadonlyArray<readonly [string, unknown]>
) => {
  for (const [key, service] of groupServices) if (!services.has(key)) services.set(key, service)
  services.set(HttpServerRequest.ParsedSearchParams.key, found.searchParams)
  services.set(HttpRouter.RouteContext.key, new ApiGroup.ProvidedRouteContext(found.params, found.handler.route))
}

/** The router's routes as an HttpApp; a router with mounts (none here) is served by the platform.
 * The app asks whoever serves it (RequestHandler.withPrepare) to find the route as the request's
 * context is built and add what the route needs there; the app then only runs it. Served by a
 * handler that does not, it finds the route itself and replaces the fiber's context once. */
export const toHttpApp = <E, R>(router: HttpRouter.HttpRouter<E, R>): Effect.Effect<HttpApp.Default<unknown, unknown>> =>
  Effect.gen(function*() {
    if (Chunk.size(router.mounts) > 0) return (yield* HttpRouter.toHttpApp(router)) as HttpApp.Default<unknown, unknown>
    const config = yield* FiberRef.get(HttpRouter.currentRouterConfig)
    const matcher = FindMyWay.make<Compiled>(config)
    const compiled: Array<Compiled> = []
    for (const route of Chunk.toReadonlyArray(router.routes) as ReadonlyArray<Route>) {
      const one = compile(route)
      compiled.push(one)
      if (route.method === "*") matcher.all(route.path, one)
      else matcher.on(route.method, route.path, one)
    }
    const FOUND = `app/http/ApiRouter/found/${routers++}`
    const app = Effect.withFiberRuntime<HttpServerResponse.HttpServerResponse, unknown, unknown>((fiber) => {
      const found = fiber.currentContext.unsafeMap.get(FOUND) as Compiled | undefined
      if (found !== undefined) {
        unsafeNameRoute(fiber.currentContext, found.route.path)
        return found.run
      }
      const request = Context.unsafeGet(fiber.currentContext, HttpServerRequest.HttpServerRequest)
      const result = find(matcher, request)
      if (result === undefined) return Effect.fail(new HttpServerError.RouteNotFound({ request }))
      const { route, run, services } = result.handler
      const map = new Map(fiber.currentContext.unsafeMap)
      addRoute(map, result, services)
      if (route.prefix._tag === "Some") map.set(HttpServerRequest.HttpServerRequest.key, sliceRequestUrl(request, route.prefix.value))
      unsafeNameRoute(fiber.currentContext, route.path)
      // Not Effect.locally: nothing runs in this fiber after the request that needs the old context.
      return Effect.zipRight(FiberRef.set(FiberRef.currentContext, Context.unsafeMake(map)), run)
    })
    return RequestHandler.withPrepare(app, (runtime) => {
      // A group's services the server's runtime already has (most, often all) are never added:
      // only the others are looked at per request.
      const base = runtime.context.unsafeMap
      const missing = new Map(compiled.map((one) => [one, one.services.filter(([key]) => !base.has(key))] as const))
      return (request, services) => {
        const result = find(matcher, request)
        // A route under a prefix is found by the app itself (it serves the request its URL cut).
        if (result === undefined || result.handler.route.prefix._tag === "Some") return
        addRoute(services, result, missing.get(result.handler)!)
        services.set(FOUND, result.handler)
      }
    })
  })

/** HttpApiBuilder.httpApp with the router above: the same middleware, in the same order, and the
 * same error encoding (HttpApiBuilder.buildMiddleware, which is what httpApp applies when the API
 * declares no middleware of its own; an API that declares some is served by httpApp itself). */
export const httpApp = Effect.gen(function*() {
  const { api, context } = yield* HttpApi.Api
  if (api.middlewares.size > 0) return yield* HttpApiBuilder.httpApp
  const routes = yield* toHttpApp(yield* HttpApiBuilder.Router.router)
  const apiMiddleware = yield* Effect.flatMap(HttpApiBuilder.Middleware, (middleware) => middleware.retrieve)
  const withErrors = yield* Effect.provide(HttpApiBuilder.buildMiddleware(api), context)
  const served: Effect.Effect<HttpServerResponse.HttpServerResponse, unknown> = apiMiddleware(routes as HttpApp.Default) as any
  const app = withErrors(served) as unknown as HttpApp.Default<never, HttpRouter.HttpRouter.DefaultServices>
  // The router's request preparation goes with the app that is served.
  const prepare = RequestHandler.preparerOf(routes)
  return prepare === undefined ? app : RequestHandler.withPrepare(app, prepare)
})
