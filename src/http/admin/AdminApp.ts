// The admin listener's routes. A plain table (path -> method -> handler) so a wrong method is
// answered 405 with Allow, OPTIONS with the same Allow, and an unknown path 404, all as JSON.
// Every refusal is the client's doing: one warn line (no stack, rate-limited per kind); a 401
// names the address it came from, and so does the "shutdown" line of an admin shutdown.
import { HttpServerRequest, HttpServerResponse, type HttpApp } from "@effect/platform"
import { Effect, Metric, Option } from "effect"
import * as DrainView from "../../lifecycle/DrainView.js"
import { FiberRegistry } from "../../lifecycle/FiberRegistry.js"
import * as NodeEdge from "../../lifecycle/NodeEdge.js"
import { Shutdown } from "../../lifecycle/Shutdown.js"
import { ShutdownReason } from "../../lifecycle/ShutdownReason.js"
import { errorResponse } from "../ErrorResponse.js"
import * as Prometheus from "../../observability/Prometheus.js"
import { bearerMatches } from "./BearerAuth.js"

const fibersOwned = Metric.gauge("fibers_owned", { description: "Live fibers in the FiberRegistry (named, with an owner)." })

type Handler = HttpApp.Default<never, never>
type Routes = Record<string, Partial<Record<string, Handler>>>

/** The path of a request-target, or undefined when it is not a URL at all (e.g. `//` or `http://[`). */
const pathOf = (url: string): string | undefined => {
  try {
    return new URL(url, "http://admin").pathname
  } catch {
    return undefined
  }
}

const remoteAddressOf = (request: HttpServerRequest.HttpServerRequest) => Option.getOrElse(request.remoteAddress, () => "unknown")

/** GET implies HEAD (Node sends no body for HEAD); OPTIONS is always answered. */
const allowOf = (methods: Partial<Record<string, Handler>>) => {
  const allow = Object.keys(methods).flatMap((method) => method === "GET" && methods.HEAD === undefined ? ["GET", "HEAD"] : [method])
  return [...allow, "OPTIONS"].join(", ")
}

const dispatch = (routes: Routes, token: string | undefined, edge: NodeEdge.Edge): HttpApp.Default<never, HttpServerRequest.HttpServerRequest> => {
  const refuse = (request: HttpServerRequest.HttpServerRequest, response: HttpServerResponse.HttpServerResponse, kind: string, message: string) =>
    Effect.sync(() => {
      edge.clientError(kind, message, {
        method: request.method,
        remoteAddress: remoteAddressOf(request)
      })
      return response
    })
  return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    if (token !== undefined && !bearerMatches(request.headers["authorization"], token)) {
      return refuse(
        request,
        errorResponse(401, "Unauthorized", "a valid bearer token is required", { "www-authenticate": "Bearer" }),
        "admin unauthorized",
        "admin request without a valid bearer token"
      )
    }
    const path = pathOf(request.url)
    if (path === undefined) {
      const message = "the request-target is not a valid URL"
      return refuse(request, errorResponse(400, "BadRequest", message), "admin bad request", message)
    }
    const methods = routes[path]
    if (methods === undefined) return refuse(request, errorResponse(404, "NotFound", "no such route"), "admin not found", "no such route")
    const handler = methods[request.method] ?? (request.method === "HEAD" ? methods.GET : undefined)
    if (handler === undefined) {
      const allow = allowOf(methods)
      if (request.method === "OPTIONS") return Effect.succeed(HttpServerResponse.empty({ status: 204, headers: { allow } }))
      const message = `${path} takes ${allow}`
      return refuse(request, errorResponse(405, "MethodNotAllowed", message, { allow }), "admin method not allowed", message)
    }
    // The route label of http_requests_total: admin paths are a fixed set, so the path is the template.
    return Effect.zipRight(Effect.annotateCurrentSpan("http.route", path), handler)
  })
}

export const make = (token: string | undefined) =>
  Effect.gen(function*() {
    const shutdown = yield* Shutdown
    const registry = yield* FiberRegistry
    const edge = yield* NodeEdge.make
    const routes: Routes = {
      "/admin/shutdown": {
        POST: Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
          Effect.as(
            shutdown.trigger(ShutdownReason.Admin(), { remoteAddress: remoteAddressOf(request) }),
            HttpServerResponse.unsafeJson({ status: "shutting down" }, { status: 202 })
          ))
      },
      "/debug/shutdown": {
        GET: Effect.map(DrainView.snapshot(shutdown, registry), (view) => HttpServerResponse.unsafeJson(view))
      },
      "/debug/fibers": {
        GET: Effect.map(registry.snapshot, (fibers) => HttpServerResponse.unsafeJson({ fibers }))
      },
      "/metrics": {
        GET: Effect.suspend(() => Metric.set(fibersOwned, registry.size())).pipe(
          Effect.zipRight(Prometheus.scrape),
          Effect.map((text) => HttpServerResponse.text(text, { contentType: Prometheus.contentType }))
        )
      }
    }
    return dispatch(routes, token, edge)
  })
