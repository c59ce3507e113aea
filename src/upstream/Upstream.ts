/**
 * The outbound dependency behind GET /upstream: timeout per attempt, retries with jittered
 * exponential backoff (idempotent methods only; timeouts, transport failures and 5xx only), a
 * circuit breaker around the whole call, and real cancellation: interrupting an attempt aborts
 * its request, so the client given to it closes the socket to the upstream.
 * Owns: its breaker; reading every answer's body to its end or cutting it (see UpstreamBody.ts),
 * so no socket stays lent to a call that is over.
 * Does not own: the `HttpClient.HttpClient` it calls through: the composition root provides it
 * (App.ts gives `HttpClientLive` below; tests give a scripted client); the caller's request
 * fiber (interrupting that fiber is how a call is cancelled).
 * Released when: nothing of its own to release. `HttpClientLive`'s agent is acquired and
 * destroyed, with its sockets, by the platform's `makeAgent` (an acquireRelease) when the
 * scope of whoever built that layer closes: after the upstream, which it was provided to.
 */
import { HttpClient, type HttpClientResponse, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Context, Duration, Effect, Either, Layer, Schedule } from "effect"
import { reveal } from "../config/env.js"
import { UpstreamConfig } from "./UpstreamConfig.js"
import { type CircuitBreaker, type CircuitOpen, make as makeBreaker } from "./CircuitBreaker.js"
import { discard, readJson, UpstreamError, UpstreamNotConfigured } from "./UpstreamBody.js"

export { MAX_BODY_BYTES, UpstreamError, UpstreamNotConfigured } from "./UpstreamBody.js"

export type Method = "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS" | "POST" | "PATCH"

const idempotent = new Set<Method>(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"])

/**
 * Worth another attempt: the upstream may answer next time. Timeouts and transport failures
 * (no answer, or an answer cut mid-body) and 5xx. A 4xx or a body that is not JSON will not change.
 */
export const retryable = (error: UpstreamError) =>
  error.reason === "Timeout" || error.reason === "Connection" || error.reason === "Cut" ||
  (error.reason === "Status" && (error.status ?? 0) >= 500)

/**
 * A failure of the upstream itself, which the breaker counts: all but a 4xx. A 2xx whose body
 * is not JSON we accept is the upstream failing its contract (a maintenance page, a proxy's
 * error): not retried, but counted.
 */
export const upstreamFault = (error: UpstreamError) => retryable(error) || error.reason === "Body"

export class Upstream extends Context.Tag("app/Upstream")<Upstream, {
  /** Calls UPSTREAM_URL and decodes its JSON body (span "Upstream.call", one "Upstream.attempt" per try). */
  readonly call: (method: Method) => Effect.Effect<unknown, UpstreamNotConfigured | UpstreamError | CircuitOpen>
  readonly breaker: CircuitBreaker
}>() {}

const isSuccess = (response: HttpClientResponse.HttpClientResponse) => response.status >= 200 && response.status < 300

export const make = Effect.gen(function*() {
  const config = yield* UpstreamConfig
  const client = yield* HttpClient.HttpClient
  // A caller that gives up (its request timeout, its client gone) counts as a failure: an
  // upstream that hangs must open the breaker even when no attempt timeout fires first.
  const breaker = yield* makeBreaker({
    name: "upstream",
    failures: config.breakerFailures,
    resetMs: config.breakerResetMs,
    countInterruption: true
  })
  const url = reveal(config.upstreamUrl)
  // Discarding a non-2xx body gets its own short bound: a slow error body must not turn a 404
  // into a retried timeout. Cut at the bound, the socket is closed instead of returned.
  const discardMs = Math.min(config.upstreamTimeoutMs, 1_000)

  /** One request within the attempt's budget: the JSON of a 2xx, or the non-2xx response. */
  const exchange = (method: Method, target: URL) =>
    client.execute(HttpClientRequest.make(method)(target, { acceptJson: true })).pipe(
      Effect.mapError((cause) => new UpstreamError({ reason: "Connection", cause })),
      Effect.flatMap((response): Effect.Effect<Either.Either<unknown, HttpClientResponse.HttpClientResponse>, UpstreamError> =>
        isSuccess(response) ? Effect.map(readJson(response), Either.right) : Effect.succeed(Either.left(response))
      ),
      // Interrupting the attempt aborts its request (the socket closes).
      Effect.timeoutFail({ duration: config.upstreamTimeoutMs, onTimeout: () => new UpstreamError({ reason: "Timeout" }) })
    )

  const attempt = Effect.fn("Upstream.attempt")(function*(method: Method, target: URL) {
    const answer = yield* exchange(method, target)
    if (Either.isRight(answer)) return answer.right
    yield* discard(answer.left, discardMs)
    return yield* new UpstreamError({ reason: "Status", status: answer.left.status })
  })

  const backoff = Schedule.exponential(Duration.millis(Math.min(100, config.upstreamTimeoutMs))).pipe(
    Schedule.jittered,
    Schedule.intersect(Schedule.recurs(config.upstreamRetries))
  )

  const call = Effect.fn("Upstream.call")(function*(method: Method) {
    if (url === undefined) return yield* new UpstreamNotConfigured({ message: "UPSTREAM_URL is not set" })
    const once = attempt(method, url)
    const withRetries = idempotent.has(method) ? Effect.retry(once, { schedule: backoff, while: retryable }) : once
    // Only failures of the upstream itself trip the breaker; a 4xx passes through it as an
    // answer and fails after.
    const result = yield* breaker.protect(
      Effect.flatMap(Effect.either(withRetries), (result) =>
        Either.isLeft(result) && upstreamFault(result.left) ? Effect.fail(result.left) : Effect.succeed(result))
    )
    return yield* result
  })

  return Upstream.of({ call, breaker })
})

/** The upstream on the `HttpClient` its composition root provides (App.ts: `HttpClientLive`). */
export const layer = Layer.effect(Upstream, make)

/**
 * The client App.ts gives the upstream: node:http (an interrupted attempt aborts its request and
 * the socket closes) on a keep-alive agent, so consecutive calls reuse a socket. An idle socket
 * is closed after 4 s, before a typical server's 5 s keep-alive timeout could close it under a
 * request being sent. The agent is the platform's `makeAgent`: acquired with its finalizer
 * (`agent.destroy()`, which closes its sockets) in the scope this layer is built in.
 */
export const HttpClientLive = NodeHttpClient.layerWithoutAgent.pipe(
  Layer.provide(NodeHttpClient.makeAgentLayer({ keepAlive: true, timeout: 4_000 }))
)
