/**
 * The answers the server gives itself, before (or instead of) running the app: written through
 * the node response, so they are counted and closed like any other response.
 * Owns: nothing.
 */
import type * as Http from "node:http"
import { errorBody } from "../ErrorResponse.js"
import type { Refusal } from "../RawAnswer.js"

export const shuttingDown: Refusal = {
  status: 503,
  error: "ShuttingDown",
  message: "the service is shutting down",
  headers: { "retry-after": "5" }
}

export const badTarget: Refusal = { status: 400, error: "BadRequest", message: "the request-target is not a valid URL" }

export const tooLarge = (limit: number): Refusal => ({
  status: 413,
  error: "PayloadTooLarge",
  message: `the request body is larger than ${limit} bytes`
})

/** Answers through the node response, before any fiber runs. */
export const answer = (response: Http.ServerResponse, refusal: Refusal, close: boolean) => {
  const body = errorBody(refusal.error, refusal.message)
  if (close) response.shouldKeepAlive = false
  response.writeHead(refusal.status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    ...(close ? { "connection": "close" } : {}),
    ...refusal.headers
  })
  response.end(body)
}

/** What a throw in our own request code (a bug) costs: that one request, 500 without internals. */
export const failRequest = (response: Http.ServerResponse) => {
  if (response.headersSent) return void response.destroy()
  answer(response, { status: 500, error: "InternalServerError", message: "internal error" }, true)
}
