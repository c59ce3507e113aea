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

/** The router's routes as an HttpApp; a router with mounts (none here) is served by the platform. */
export const toHttpApp = <E, R>(router: HttpRouter.HttpRouter<E, R>): Effect.Effect<HttpApp.Default<unknown, unknown>> =>
  Effect.gen(function*() {
    if (Chunk.size(router.mounts) > 0) return (yield* HttpRouter.toHttpApp(router)) as HttpApp.Default<unknown, unknown>
    const config = yield* FiberRef.get(HttpRouter.currentRouterConfig)
    const matcher = FindMyWay.make<Compiled>(config)
    for (const route of Chunk.toReadonlyArray(router.routes) as ReadonlyArray<Route>) {
      if (route.method === "*") matcher.all(route.path, compile(route))
      else matcher.on(route.method, route.path, compile(route))
    }
    return Effect.withFiberRuntime<HttpServerResponse.HttpServerResponse, unknown, unknown>((fiber) => {
      const request = Context.unsafeGet(fiber.currentContext, HttpServerRequest.HttpServerRequest)
      let result = matcher.find(request.method, request.url)
      if (result === undefined && request.method === "HEAD") result = matcher.find("GET", request.url)
      if (result === undefined) return Effect.fail(new HttpServerError.RouteNotFound({ request }))
      const { route, run, services } = result.handler
      const map = new Map(fiber.currentContext.unsafeMap)
      for (const [key, service] of services) if (!map.has(key)) map.set(key, service)
      if (route.prefix._tag === "Some") map.set(HttpServerRequest.HttpServerRequest.key, sliceRequestUrl(request, route.prefix.value))
      map.set(HttpServerRequest.ParsedSearchParams.key, result.searchParams)
      map.set(HttpRouter.RouteContext.key, new ApiGroup.ProvidedRouteContext(result.params, route))
      unsafeNameRoute(fiber.currentContext, route.path)
      // Not Effect.locally: nothing runs in this fiber after the request that needs the old context.
      return Effect.zipRight(FiberRef.set(FiberRef.currentContext, Context.unsafeMake(map)), run)
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
  return withErrors(served) as unknown as HttpApp.Default<never, HttpRouter.HttpRouter.DefaultServices>
})
