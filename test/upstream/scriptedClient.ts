// An in-memory HttpClient whose answers a test scripts, for the Upstream service under TestClock:
// no socket, so every wait in a test is the schedule's or the timeout's, never the network's.
// Bodies are web streams read on promises (not on the clock); a stream that stalls or breaks off
// stands for an upstream whose body does. The socket behaviour itself is in upstreamSockets.test.ts.
import { HttpClient, HttpClientError, type HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { Chunk, Clock, Deferred, Effect, Layer, Queue, TestClock } from "effect"
import * as Upstream from "../../src/upstream/Upstream.js"
import * as UpstreamConfig from "../../src/upstream/UpstreamConfig.js"
import * as TestConfig from "../support/testConfig.js"

export type Scripted =
  | number // that status; a 2xx answers {"answer": status}, others an empty body
  | { readonly status: number; readonly text: string }
  /** `chunks` chunks of `chunkBytes` (then the end, or, with `then`, a stall or a transport error) */
  | { readonly status: number; readonly chunks: number; readonly chunkBytes?: number; readonly then?: "stall" | "break" }
  | { readonly heldUntil: Deferred.Deferred<void> } // 200 once the test completes `heldUntil`
  | "hang" // no answer at all
  | "refused" // a transport failure before any answer

/** What became of a streamed body: chunks pulled by the reader, and whether it was cancelled (cut). */
export interface BodyRecord {
  pulled: number
  cancelled: boolean
}

type Streamed = Extract<Scripted, { readonly status: number }>

const webBody = (scripted: Streamed, record: BodyRecord) => {
  if ("text" in scripted) return scripted.text
  const chunk = new Uint8Array(scripted.chunkBytes ?? 64 * 1024).fill(0x20) // JSON whitespace
  return new ReadableStream<Uint8Array>({
    pull: (controller) => {
      if (record.pulled === scripted.chunks) {
        if (scripted.then === "stall") return new Promise<void>(() => {}) // the rest never comes
        if (scripted.then === "break") return controller.error(new Error("socket hang up"))
        return controller.close()
      }
      record.pulled++
      controller.enqueue(chunk)
    },
    cancel: () => {
      record.cancelled = true
    }
  }, { highWaterMark: 0 })
}

const respond = (
  request: HttpClientRequest.HttpClientRequest,
  scripted: Scripted,
  record: BodyRecord
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError> => {
  if (scripted === "hang") return Effect.never
  if (scripted === "refused") {
    return Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause: "connect ECONNREFUSED" }))
  }
  if (typeof scripted === "object" && "heldUntil" in scripted) return Effect.zipRight(Deferred.await(scripted.heldUntil), respond(request, 200, record))
  if (typeof scripted === "number") {
    const body = scripted >= 200 && scripted < 300 ? JSON.stringify({ answer: scripted }) : ""
    return Effect.succeed(HttpClientResponse.fromWeb(request, new Response(body, { status: scripted })))
  }
  return Effect.succeed(HttpClientResponse.fromWeb(request, new Response(webBody(scripted, record), { status: scripted.status })))
}

/**
 * A client answering from `script`, in order (then 200). `arrivals` receives each request as it
 * is sent (a test takes from it to wait for one); `bodies` records each answer's body.
 */
export const scriptedClient = (script: Array<Scripted>) =>
  Effect.gen(function*() {
    const arrivals = yield* Queue.unbounded<HttpClientRequest.HttpClientRequest>()
    const sent = { count: 0 }
    const bodies: Array<BodyRecord> = []
    const client = HttpClient.make((request) =>
      Effect.suspend(() => {
        sent.count++
        const record: BodyRecord = { pulled: 0, cancelled: false }
        bodies.push(record)
        return Effect.zipRight(Queue.offer(arrivals, request), respond(request, script.shift() ?? 200, record))
      })
    )
    return { arrivals, sent, bodies, layer: Layer.succeed(HttpClient.HttpClient, client) }
  })

/** The feature's settings a test overrides, by field (undefined upstreamUrl: not configured). */
export interface UpstreamOverrides {
  readonly upstreamUrl?: URL | undefined
  readonly upstreamTimeoutMs?: number
  readonly upstreamRetries?: number
  readonly breakerFailures?: number
  readonly breakerResetMs?: number
}

/** The settings as the environment gives them (UPSTREAM_*, BREAKER_*), read by UpstreamConfig. */
export const upstreamSettings = (overrides: UpstreamOverrides) => {
  const env: Record<string, string> = {}
  if (overrides.upstreamUrl !== undefined) env.UPSTREAM_URL = overrides.upstreamUrl.href
  if (overrides.upstreamTimeoutMs !== undefined) env.UPSTREAM_TIMEOUT_MS = String(overrides.upstreamTimeoutMs)
  if (overrides.upstreamRetries !== undefined) env.UPSTREAM_RETRIES = String(overrides.upstreamRetries)
  if (overrides.breakerFailures !== undefined) env.BREAKER_FAILURES = String(overrides.breakerFailures)
  if (overrides.breakerResetMs !== undefined) env.BREAKER_RESET_MS = String(overrides.breakerResetMs)
  return TestConfig.withEnv(UpstreamConfig.layer, env)
}

/** The Upstream service, as the feature builds it, on a scripted client and test settings. */
export const upstreamOn = (client: Layer.Layer<HttpClient.HttpClient>, overrides: UpstreamOverrides = {}) =>
  Upstream.layer.pipe(Layer.provide([
    client,
    upstreamSettings({ upstreamUrl: new URL("http://upstream.test/data"), upstreamTimeoutMs: 1_000, ...overrides })
  ]))

/**
 * Lets the forked call run, without moving the clock, until `count` requests were sent and it
 * waits on a deadline at most `withinMs` ahead (a retry's backoff, an attempt's timeout); returns
 * how far ahead that deadline is. Longer ones (a discard's bound) and ones already behind do not count.
 */
export const untilWaiting = (sent: { readonly count: number }, count: number, withinMs: number) =>
  Effect.gen(function*() {
    for (;;) {
      const now = yield* Clock.currentTimeMillis
      const ahead = Chunk.filter(Chunk.map(yield* TestClock.sleeps(), (at) => at - now), (left) => left > 0 && left <= withinMs)
      if (sent.count === count && Chunk.isNonEmpty(ahead)) return Math.min(...ahead)
      yield* Effect.yieldNow()
    }
  })
