// The admin listener's routes. A plain table (path -> method -> handler) so a wrong method is
// answered 405 with Allow, and an unknown path 404, both as JSON.
import { HttpServerRequest, HttpServerResponse, type HttpApp } from "@effect/platform"
import { Effect, Metric } from "effect"
import { FiberRegistry } from "../../lifecycle/FiberRegistry.js"
import { Shutdown } from "../../lifecycle/Shutdown.js"
import { ShutdownReason } from "../../lifecycle/ShutdownReason.js"
import { errorResponse } from "../ErrorResponse.js"
import * as Prometheus from "../../observability/Prometheus.js"
import { bearerMatches } from "./BearerAuth.js"

const fibersOwned = Metric.gauge("fibers_owned", { description: "Live fibers in the FiberRegistry (named, with an owner)." })

type Handler = HttpApp.Default<never, never>
type Routes = Record<string, Partial<Record<string, Handler>>>

const dispatch = (routes: Routes, token: string | undefined): HttpApp.Default<never, HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    if (token !== undefined && !bearerMatches(request.headers["authorization"], token)) {
      return Effect.succeed(
        errorResponse(401, "Unauthorized", "a valid bearer token is required", { "www-authenticate": "Bearer" })
      )
    }
    const path = new URL(request.url, "http://admin").pathname
    const methods = routes[path]
    if (methods === undefined) return Effect.succeed(errorResponse(404, "NotFound", "no such route"))
    const handler = methods[request.method]
    if (handler === undefined) {
      const allowed = Object.keys(methods).join(", ")
      return Effect.succeed(errorResponse(405, "MethodNotAllowed", `use ${allowed}`, { allow: allowed }))
    }
    // The route label of http_requests_total: admin paths are a fixed set, so the path is the template.
    return Effect.zipRight(Effect.annotateCurrentSpan("http.route", path), handler)
  })

export const make = (token: string | undefined) =>
  Effect.gen(function*() {
    const shutdown = yield* Shutdown
    const registry = yield* FiberRegistry
    const routes: Routes = {
      "/admin/shutdown": {
        POST: Effect.as(
          shutdown.trigger(ShutdownReason.Admin()),
          HttpServerResponse.unsafeJson({ status: "shutting down" }, { status: 202 })
        )
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
    return dispatch(routes, token)
  })
