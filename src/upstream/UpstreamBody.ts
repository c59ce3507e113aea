// Reading an upstream answer's body so that its socket is always released: read to the end (the
// agent takes the socket back for the next call) or stopped at a bound (the request is aborted,
// the socket closed). A body left unread would keep its socket lent to a call that is over.
import type { HttpClientResponse } from "@effect/platform"
import { Data, Effect, Either, Schema, Stream } from "effect"
import * as BoundedJson from "../http/BoundedJson.js"
import { status } from "../http/public/ApiErrors.js"

/** UPSTREAM_URL is unset: one class from the client to the wire (503 there). */
export class UpstreamNotConfigured
  extends Schema.TaggedError<UpstreamNotConfigured>()("UpstreamNotConfigured", { message: Schema.String }, status(503))
{}

const messages = {
  Timeout: "the upstream did not answer in time",
  Connection: "could not reach the upstream",
  Cut: "the upstream's answer was cut off",
  Body: "the upstream's answer was not JSON this service accepts"
} as const

export class UpstreamError extends Data.TaggedError("UpstreamError")<{
  /** Connection: no answer (refused, reset); Cut: an answer whose body broke off; Body: a 2xx body we refuse. */
  readonly reason: "Timeout" | "Connection" | "Cut" | "Status" | "Body"
  readonly status?: number
  readonly cause?: unknown
}> {
  override get message() {
    return this.reason === "Status" ? `upstream answered ${this.status}` : messages[this.reason]
  }
}

/** The biggest upstream body read; a bigger 2xx is a Body failure (it would be held whole in memory). */
export const MAX_BODY_BYTES = 1024 * 1024

/** How much of a non-2xx body is read to keep its socket; past this, closing it is cheaper. */
const DISCARD_BYTES = 64 * 1024

/**
 * Reads at most `limit` bytes. `bytes > limit` means the body was longer: the rest is not read,
 * and ending the response's stream early aborts its request (platform's HttpClient), which
 * closes the socket. A transport failure mid-body is `Cut`.
 */
const readUpTo = (response: HttpClientResponse.HttpClientResponse, limit: number) =>
  Effect.suspend(() => {
    const chunks: Array<Uint8Array> = []
    return response.stream.pipe(
      Stream.runFoldWhile(0, (bytes) => bytes <= limit, (bytes, chunk) => {
        chunks.push(chunk)
        return bytes + chunk.length
      }),
      Effect.map((bytes) => ({ bytes, chunks })),
      Effect.mapError((cause) => new UpstreamError({ reason: "Cut", status: response.status, cause }))
    )
  })

/** A 2xx body as JSON: bounded in size and depth (the depth before it reaches JSON.parse or, later, JSON.stringify). */
export const readJson = (response: HttpClientResponse.HttpClientResponse) =>
  Effect.flatMap(readUpTo(response, MAX_BODY_BYTES), ({ bytes, chunks }) => {
    const status = response.status
    if (bytes > MAX_BODY_BYTES) {
      return Effect.fail(new UpstreamError({ reason: "Body", status, cause: `body over ${MAX_BODY_BYTES} bytes` }))
    }
    const text = Buffer.concat(chunks).toString("utf8")
    // An empty 2xx (a 204) is null, as platform's `response.json` has it.
    return text === "" ? Effect.succeed(null) : Either.match(BoundedJson.parse(text), {
      onLeft: (cause) => Effect.fail(new UpstreamError({ reason: "Body", status, cause })),
      onRight: (value) => Effect.succeed(value)
    })
  })

/**
 * A non-2xx body, read and dropped so the socket goes back to the agent; a big or slow one is
 * cut at DISCARD_BYTES or `timeoutMs` (its socket closed). Whatever happens reading it, the
 * status is the answer.
 */
export const discard = (response: HttpClientResponse.HttpClientResponse, timeoutMs: number) =>
  readUpTo(response, DISCARD_BYTES).pipe(Effect.timeout(timeoutMs), Effect.ignore)
