/**
 * The outbound dependency behind GET /upstream: timeout per attempt, retries with jittered
 * exponential backoff (idempotent methods only; timeouts, connection errors and 5xx only), a
 * circuit breaker around the whole call, and real cancellation: the fiber's AbortSignal reaches
 * node's http client, so an interrupted call closes its socket to the upstream.
 * Owns: its HTTP client and the agent's sockets (released with its layer), and its breaker.
 * Does not own: the caller's request fiber; interrupting that fiber is how a call is cancelled.
 * Released when: its layer's scope closes (the agent is destroyed).
 */
import { HttpClient, type HttpClientError, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Context, Data, Duration, Effect, Either, Layer, Schedule } from "effect"
import { AppConfig } from "../config/AppConfig.js"
import { type CircuitBreaker, type CircuitOpen, make as makeBreaker } from "./CircuitBreaker.js"

export class UpstreamNotConfigured extends Data.TaggedError("UpstreamNotConfigured")<{}> {}

export class UpstreamError extends Data.TaggedError("UpstreamError")<{
  readonly reason: "Timeout" | "Connection" | "Status" | "Body"
  readonly status?: number
  readonly cause?: unknown
}> {
  override get message() {
    return this.reason === "Status" ? `upstream answered ${this.status}` : `upstream ${this.reason.toLowerCase()} error`
  }
}

export type Method = "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS" | "POST" | "PATCH"

const idempotent = new Set<Method>(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"])

/** Worth another attempt: the upstream may answer next time. A 4xx will not change. */
export const retryable = (error: UpstreamError) =>
  error.reason === "Timeout" || error.reason === "Connection" || (error.reason === "Status" && (error.status ?? 0) >= 500)

export class Upstream extends Context.Tag("app/Upstream")<Upstream, {
  /** Calls UPSTREAM_URL and decodes its JSON body. */
  readonly call: (method: Method) => Effect.Effect<unknown, UpstreamNotConfigured | UpstreamError | CircuitOpen>
  readonly breaker: CircuitBreaker
}>() {}

const toUpstreamError = (error: HttpClientError.HttpClientError) =>
  error._tag === "RequestError"
    ? new UpstreamError({ reason: "Connection", cause: error })
    : new UpstreamError({ reason: "Body", status: error.response.status, cause: error })

export const make = Effect.gen(function*() {
  const config = yield* AppConfig
  const client = yield* HttpClient.HttpClient
  const breaker = yield* makeBreaker({ name: "upstream", failures: config.breakerFailures, resetMs: config.breakerResetMs })
  const url = AppConfig.reveal(config.upstreamUrl)

  const attempt = (method: Method, target: URL) =>
    client.execute(HttpClientRequest.make(method)(target, { acceptJson: true })).pipe(
      Effect.mapError(toUpstreamError),
      Effect.flatMap((response) =>
        response.status >= 200 && response.status < 300
          ? Effect.mapError(response.json, (cause) => new UpstreamError({ reason: "Body", status: response.status, cause }))
          : Effect.fail(new UpstreamError({ reason: "Status", status: response.status }))
      ),
      // One attempt's budget. Interrupting the attempt aborts its request (the socket closes).
      Effect.timeoutFail({ duration: config.upstreamTimeoutMs, onTimeout: () => new UpstreamError({ reason: "Timeout" }) }),
      Effect.scoped
    )

  const backoff = Schedule.exponential(Duration.millis(Math.min(100, config.upstreamTimeoutMs))).pipe(
    Schedule.jittered,
    Schedule.intersect(Schedule.recurs(config.upstreamRetries))
  )

  const call = (method: Method): Effect.Effect<unknown, UpstreamNotConfigured | UpstreamError | CircuitOpen> => {
    if (url === undefined) return Effect.fail(new UpstreamNotConfigured())
    const once = attempt(method, url)
    const withRetries = idempotent.has(method) ? Effect.retry(once, { schedule: backoff, while: retryable }) : once
    // Only failures of the upstream itself (timeouts, connection errors, 5xx) trip the breaker;
    // a 4xx passes through it as an answer and fails after.
    return breaker.protect(
      Effect.flatMap(Effect.either(withRetries), (result) =>
        Either.isLeft(result) && retryable(result.left) ? Effect.fail(result.left) : Effect.succeed(result))
    ).pipe(Effect.flatMap((result) => result))
  }

  return Upstream.of({ call, breaker })
})

export const layer = Layer.effect(Upstream, make).pipe(Layer.provide(NodeHttpClient.layer))
