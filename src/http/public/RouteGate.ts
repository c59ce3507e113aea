// What HttpApi's router does not answer for a declared path: the methods it takes (a wrong method
// is a 405 with Allow, OPTIONS lists them) and the bodies it reads (a Content-Type the endpoint
// does not declare is a 415 before the platform tries to parse it: a multipart body sent to a
// JSON route would otherwise be parsed as multipart, and a truncated one waits for the timeout).
// The table is derived from the served HttpApi, features' groups included: nothing is listed by hand.
import { HttpApi, type HttpApiGroup, HttpMethod, HttpRouter, HttpServerError, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Context, Data, Effect, FiberRef } from "effect"
import * as FindMyWay from "find-my-way-ts"
import { unsafeNameRoute } from "../RequestLifecycle.js"

/** How HttpApiBuilder reads a body, chosen by Content-Type alone (see its `requestPayload`). */
export type BodyKind = "Json" | "Multipart" | "UrlParams" | "Text" | "Uint8Array"

export const bodyKindOf = (contentType: string | undefined): BodyKind => {
  const type = contentType ? contentType.toLowerCase().trim() : "application/json"
  if (type.includes("application/json")) return "Json"
  if (type.includes("multipart/form-data")) return "Multipart"
  if (type.includes("x-www-form-urlencoded")) return "UrlParams"
  return type.startsWith("text/") ? "Text" : "Uint8Array"
}

export interface Endpoint {
  readonly method: string
  /** The body kinds its payload declares, by content type; none when it reads no body. */
  readonly accepts: ReadonlyMap<BodyKind, string>
}

/** The request's path and method are declared: serve it, reading its body as `kind`. It travels
 * in the failure channel because a route must answer with a response, and "go on to the API's
 * own router" is not one; it is a plain object (no stack captured on the hot path). */
export class Routed {
  readonly _tag = "Routed"
  constructor(readonly endpoint: Endpoint, readonly kind: BodyKind | undefined) {}
}

export class MethodNotAllowed extends Data.TaggedError("MethodNotAllowed")<{ readonly path: string; readonly allow: string }> {
  override get message() {
    return `${this.path} takes ${this.allow}`
  }
}

export class UnsupportedMediaType extends Data.TaggedError("UnsupportedMediaType")<{ readonly accepted: string }> {
  override get message() {
    return `the request body must be ${this.accepted}`
  }
}

export type Verdict = Routed | MethodNotAllowed | UnsupportedMediaType

export type Table = ReadonlyMap<string, ReadonlyMap<string, Endpoint>>

/** Declared paths -> their endpoints by method; `extraGets` are GET routes served beside the API
 * (its document and docs page). */
export const table = <Id extends string, Groups extends HttpApiGroup.HttpApiGroup.Any, E, R>(
  api: HttpApi.HttpApi<Id, Groups, E, R>,
  extraGets: ReadonlyArray<string>
): Table => {
  const paths = new Map<string, Map<string, Endpoint>>()
  const add = (path: string, endpoint: Endpoint) => {
    const methods = paths.get(path) ?? new Map<string, Endpoint>()
    methods.set(endpoint.method, endpoint)
    paths.set(path, methods)
  }
  for (const path of extraGets) add(path, { method: "GET", accepts: new Map() })
  HttpApi.reflect(api, {
    onGroup: () => undefined,
    onEndpoint: ({ endpoint, payloads }) => {
      const accepts = new Map<BodyKind, string>()
      if (HttpMethod.hasBody(endpoint.method)) {
        for (const [contentType, { encoding }] of payloads) {
          accepts.set(contentType === "multipart/form-data" ? "Multipart" : encoding.kind, contentType)
        }
      }
      add(endpoint.path, { method: endpoint.method, accepts })
    }
  })
  return paths
}

/** GET implies HEAD (the router serves HEAD with the GET handler); OPTIONS is always answered. */
const allowOf = (methods: ReadonlyMap<string, Endpoint>): string => {
  const allow: Array<string> = []
  for (const method of methods.keys()) {
    allow.push(method)
    if (method === "GET" && !methods.has("HEAD")) allow.push("HEAD")
  }
  if (!methods.has("OPTIONS")) allow.push("OPTIONS")
  return allow.join(", ")
}

const decide = (path: string, methods: ReadonlyMap<string, Endpoint>) => {
  const allow = allowOf(methods)
  const options = HttpServerResponse.empty({ status: 204, headers: { allow } })
  return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request): Effect.Effect<HttpServerResponse.HttpServerResponse, Verdict> => {
    const endpoint = methods.get(request.method) ?? (request.method === "HEAD" ? methods.get("GET") : undefined)
    if (endpoint === undefined) {
      return request.method === "OPTIONS" ? Effect.succeed(options) : Effect.fail(new MethodNotAllowed({ path, allow }))
    }
    if (endpoint.accepts.size === 0) return Effect.fail(new Routed(endpoint, undefined))
    const kind = bodyKindOf(request.headers["content-type"])
    return endpoint.accepts.has(kind)
      ? Effect.fail(new Routed(endpoint, kind))
      : Effect.fail(new UnsupportedMediaType({ accepted: Array.from(endpoint.accepts.values()).join(" or ") }))
  })
}

/**
 * The gate: an HttpApp over the same path matching the API uses (find-my-way-ts with
 * HttpRouter.currentRouterConfig: params, case, trailing slash). For a declared path it answers
 * OPTIONS (204 + Allow) or fails with its Verdict; for any other path it fails with RouteNotFound.
 * Every method of a path gets the same answer (decide looks at the method), so each path is
 * registered in one method's tree and looked up there whatever the request's method: the
 * platform's HttpRouter.all inserted it into all 34 trees, about 5 ms of the start (issue 21).
 * Like HttpRouter's app it names the matched route on the server span (http.route): the
 * metrics label an OPTIONS or a 405 by it.
 */
export const make = (paths: Table) =>
  Effect.map(FiberRef.get(HttpRouter.currentRouterConfig), (config) => {
    const matcher = FindMyWay.make<{ readonly path: string; readonly decide: ReturnType<typeof decide> }>(config)
    for (const [path, methods] of paths) matcher.on(ONE_TREE, path as FindMyWay.PathInput, { path, decide: decide(path, methods) })
    return Effect.withFiberRuntime<HttpServerResponse.HttpServerResponse, Verdict | HttpServerError.RouteNotFound, HttpServerRequest.HttpServerRequest>((fiber) => {
      const request = Context.unsafeGet(fiber.currentContext, HttpServerRequest.HttpServerRequest)
      const result = matcher.find(ONE_TREE, request.url)
      if (result === undefined) return Effect.fail(new HttpServerError.RouteNotFound({ request }))
      unsafeNameRoute(fiber.currentContext, result.handler.path)
      return result.handler.decide
    })
  })

/** The tree every path is registered in (any method would do: the lookup uses the same). */
const ONE_TREE = "GET"
