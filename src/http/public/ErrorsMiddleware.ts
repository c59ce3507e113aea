// The public API's one middleware. It runs inside the API, before its error schema encodes:
// - it answers what HttpApi's router does not: a wrong method (405 + Allow), OPTIONS, a body type
//   the endpoint does not declare (415), all decided by RouteGate before a body is read;
// - a JSON body is read through BoundedJson (BoundedBody): too deep or non-finite -> 400;
// - framework errors become ours: decode errors, unreadable bodies and unknown routes are the
//   client's (4xx, one warn line without a stack, rate-limited by NodeEdge, never quoting the
//   body); anything else is a defect, logged with its cause and answered 500 without internals.
import { HttpApiBuilder, HttpApiError, type HttpApp, HttpMethod, HttpServerError, HttpServerRequest, Multipart } from "@effect/platform"
import { Cause, Effect, Option } from "effect"
import type * as NodeEdge from "../../lifecycle/NodeEdge.js"
import { errorResponse } from "../ErrorResponse.js"
import { parsesAsUrl } from "../RawAnswer.js"
import { BaseApi } from "./BaseApi.js"
import { BadRequest, InternalServerError, NotFound, PayloadTooLarge } from "./ApiErrors.js"
import * as BoundedBody from "./BoundedBody.js"
import { describeIssues } from "./IssueMessages.js"
import type * as RouteGate from "./RouteGate.js"

/** 1 MiB: bodies are refused from Content-Length before they are read, and cut off when read. */
export const MAX_BODY_BYTES = 1024 * 1024

const tooLarge = new PayloadTooLarge({ message: `the request body is larger than ${MAX_BODY_BYTES} bytes` })

/** Never the platform's own text: a JSON.parse message quotes the body. */
const unreadableBody = (error: HttpServerError.RequestError) => {
  if (error.cause instanceof BoundedBody.JsonRefused) return new BadRequest({ message: error.cause.message })
  const reason = error.cause instanceof Error ? error.cause.message : ""
  return reason === "maxBytes exceeded" ? tooLarge : new BadRequest({ message: "the request body could not be read" })
}

const unreadableMultipart = (error: Multipart.MultipartError) =>
  error.reason === "InternalError"
    ? undefined // the platform failed to store a part: ours, a defect
    : error.reason === "Parse"
    ? new BadRequest({ message: "the multipart body could not be parsed" })
    : new PayloadTooLarge({ message: `the multipart body is too large (${error.reason})` })

/** The path part of a request-target, without parsing it as a URL (any bytes are fine here). */
const pathOf = (url: string) => {
  const query = url.search(/[?#]/)
  const path = query === -1 ? url : url.slice(0, query)
  return path.length > 200 ? `${path.slice(0, 200)}...` : path
}

type ClientError = BadRequest | NotFound | PayloadTooLarge

const isClientError = (error: unknown): error is ClientError =>
  error instanceof BadRequest || error instanceof NotFound || error instanceof PayloadTooLarge

/** Framework errors as ours; undefined for anything else (our own errors, or a real defect). */
const fromFramework = (error: unknown): ClientError | undefined => {
  if (error instanceof HttpApiError.HttpApiDecodeError) return new BadRequest({ message: describeIssues(error) })
  if (error instanceof HttpServerError.RouteNotFound) {
    return parsesAsUrl(error.request.url)
      ? new NotFound({ message: `no route for ${error.request.method} ${pathOf(error.request.url)}` })
      : new BadRequest({ message: "the request-target is not a valid URL" })
  }
  // HttpApiBuilder reads a body with orDie: a body it cannot read (bad JSON, too large) is a defect.
  if (error instanceof HttpServerError.RequestError) return unreadableBody(error)
  if (error instanceof Multipart.MultipartError) return unreadableMultipart(error)
  return undefined
}

const clientErrorKinds: Record<ClientError["_tag"], string> = {
  BadRequest: "http bad request",
  NotFound: "http not found",
  PayloadTooLarge: "http payload too large"
}

/** `gate` is RouteGate.make over the served API; `edge` writes the client-error lines. */
export const layer = (edge: NodeEdge.Edge, gate: HttpApp.Default<RouteGate.Verdict | HttpServerError.RouteNotFound>) =>
  HttpApiBuilder.middleware(BaseApi, (httpApp) => {
    // Typed HttpApp.Default<never>, but framework errors travel in its failures.
    const app = httpApp as HttpApp.Default<unknown>
    const clientError = (request: HttpServerRequest.HttpServerRequest, kind: string, message: string) =>
      Effect.sync(() => edge.clientError(kind, message, { method: request.method, path: pathOf(request.url) }))
    const refuse = (request: HttpServerRequest.HttpServerRequest, verdict: RouteGate.MethodNotAllowed | RouteGate.UnsupportedMediaType) =>
      Effect.as(
        clientError(request, verdict._tag === "MethodNotAllowed" ? "http method not allowed" : "http unsupported media type", verdict.message),
        verdict._tag === "MethodNotAllowed"
          ? errorResponse(405, "MethodNotAllowed", verdict.message, { allow: verdict.allow })
          : errorResponse(415, "UnsupportedMediaType", verdict.message)
      )
    // A request with a body passes the gate first: a wrong method or body type is answered
    // before the body is read, and a JSON body is read through BoundedJson.
    const withBody = (request: HttpServerRequest.HttpServerRequest) =>
      Effect.catchAll(gate, (verdict) => {
        if (verdict._tag === "RouteNotFound") return app
        if (verdict._tag !== "Routed") return refuse(request, verdict)
        return verdict.kind === "Json"
          ? Effect.provideService(app, HttpServerRequest.HttpServerRequest, BoundedBody.withBoundedJson(request))
          : app
      })
    // Without a body the router runs first (the hot path pays nothing); only a path it did not
    // find asks the gate whether another method would have been served.
    const withoutBody = (request: HttpServerRequest.HttpServerRequest) =>
      Effect.catchAll(app, (error) =>
        error instanceof HttpServerError.RouteNotFound
          ? Effect.catchAll(gate, (verdict) => verdict._tag === "MethodNotAllowed" ? refuse(request, verdict) : Effect.fail(error))
          : Effect.fail(error))
    return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      if (Number(request.headers["content-length"] ?? 0) > MAX_BODY_BYTES) return Effect.fail(tooLarge)
      return HttpMethod.hasBody(request.method) ? withBody(request) : withoutBody(request)
    }).pipe(Effect.catchAllCause((cause): Effect.Effect<never, ClientError | InternalServerError, HttpServerRequest.HttpServerRequest> => {
      // What is not ours to answer goes on as it came (interruption, the API's declared errors).
      const passOn = Effect.failCause(cause as Cause.Cause<never>)
      if (Cause.isInterruptedOnly(cause)) return passOn
      const failure = Cause.failureOption(cause)
      const error = Option.isSome(failure) ? failure.value : Option.getOrUndefined(Cause.dieOption(cause))
      const mapped = fromFramework(error) ?? (isClientError(error) ? error : undefined)
      if (mapped !== undefined) {
        return Effect.zipRight(
          Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => clientError(request, clientErrorKinds[mapped._tag], mapped.message)),
          Effect.fail(mapped)
        )
      }
      // Our own typed errors (QueueFull, ShuttingDown, ...) are encoded by the API as declared.
      if (Option.isSome(failure)) return passOn
      return Effect.zipRight(Effect.logError("request failed with a defect", cause), new InternalServerError({ message: "internal error" }))
    }))
  })
