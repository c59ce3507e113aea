/**
 * The outbound dependency behind GET /upstream: timeout per attempt, retries with jittered
 * exponential backoff (idempotent methods only; timeouts, transport failures and 5xx only), a
 * circuit breaker around the whole call, and real cancellation: the fiber's AbortSignal reaches
 * node's http client, so an interrupted call closes its socket to the upstream.
 * Owns: its keep-alive agent and the agent's sockets (released with its layer), and its breaker.
 * Every answer's body is read to its end or its socket closed (see UpstreamBody.ts), so no
 * socket stays lent to a call that is over.
 * Does not own: the caller's request fiber; interrupting that fiber is how a call is cancelled.
 * Released when: its layer's scope closes (the agent is destroyed).
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
  /** Calls UPSTREAM_URL and decodes its JSON body. */
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

  const attempt = (method: Method, target: URL) =>
    Effect.flatMap(exchange(method, target), Either.match({
      onRight: Effect.succeed,
      onLeft: (response) =>
        Effect.zipRight(discard(response, discardMs), Effect.fail(new UpstreamError({ reason: "Status", status: response.status })))
    }))

  const backoff = Schedule.exponential(Duration.millis(Math.min(100, config.upstreamTimeoutMs))).pipe(
    Schedule.jittered,
    Schedule.intersect(Schedule.recurs(config.upstreamRetries))
  )

  const call = (method: Method): Effect.Effect<unknown, UpstreamNotConfigured | UpstreamError | CircuitOpen> => {
    if (url === undefined) return Effect.fail(new UpstreamNotConfigured())
    const once = attempt(method, url)
    const withRetries = idempotent.has(method) ? Effect.retry(once, { schedule: backoff, while: retryable }) : once
    // Only failures of the upstream itself trip the breaker; a 4xx passes through it as an
    // answer and fails after.
    return breaker.protect(
      Effect.flatMap(Effect.either(withRetries), (result) =>
        Either.isLeft(result) && upstreamFault(result.left) ? Effect.fail(result.left) : Effect.succeed(result))
    ).pipe(Effect.flatMap((result) => result))
  }

  return Upstream.of({ call, breaker })
})

/**
 * The agent every upstream call goes through: keep-alive, so consecutive calls reuse a socket.
 * An idle socket is closed after 4 s, before a typical server's 5 s keep-alive timeout could
 * close it under a request being sent. Destroyed, with its sockets, when its layer's scope closes.
 */
export const agentLayer = NodeHttpClient.makeAgentLayer({ keepAlive: true, timeout: 4_000 })

/** The upstream on an agent given from outside: tests provide one they can inspect. */
export const layerWithoutAgent = Layer.effect(Upstream, make).pipe(Layer.provide(NodeHttpClient.layerWithoutAgent))

export const layer = Layer.provide(layerWithoutAgent, agentLayer)
