// What the outbound client does with the upstream's sockets, on the client App.ts gives it
// (HttpClientLive: node:http on a keep-alive agent) and a real upstream: one test per behaviour.
// What the client makes of each answer, and all of its timing, is tested on a scripted client
// (Upstream.test.ts, UpstreamTiming.test.ts); these are about the sockets themselves.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { HttpClientLive, layer, Upstream } from "../../src/upstream/Upstream.js"
import { captureLogs } from "../support/captureLogs.js"
import { leakCheck } from "../support/LeakCheck.js"
import { startUpstream } from "./fakeUpstream.js"
import { upstreamSettings, type UpstreamOverrides } from "./scriptedClient.js"

/** The upstream service as App.ts builds it; the agent is destroyed when the test's use of it ends. */
const withUpstream = (url: string, overrides: UpstreamOverrides = {}) =>
  layer.pipe(Layer.provide([
    HttpClientLive,
    upstreamSettings({ upstreamUrl: new URL(url), upstreamTimeoutMs: 2_000, upstreamRetries: 0, breakerFailures: 100, ...overrides })
  ]))

const call = Effect.flatMap(Upstream, (upstream) => upstream.call("GET"))

describe("upstream sockets", () => {
  it.live("an interrupted call aborts its request: the upstream sees the socket close, long before the attempt timeout", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.promise(() => startUpstream())
      fake.script.push("hang")
      yield* leakCheck(Effect.gen(function*() {
        const pending = yield* Effect.fork(call)
        while (fake.requests.length === 0) yield* Effect.sleep("5 millis") // the upstream's own record is the event
        yield* Fiber.interrupt(pending)
        // Without the abort it would stay open for the 60 s attempt timeout: the test's 10 s timeout fails it.
        yield* Effect.promise(() => fake.sockets[0]!.closed)
      }).pipe(Effect.provide(withUpstream(fake.url, { upstreamTimeoutMs: 60_000 }))))
    }).pipe(Effect.provide(captureLogs().layer)), 10_000)

  it.live("a body left unread is cut: a big non-2xx body closes its socket, and the next call comes on a new one", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.promise(() => startUpstream())
      fake.script.push({ status: 500, text: "x".repeat(4 * 1024 * 1024) }, { status: 200, body: { n: 2 } })
      yield* Effect.gen(function*() {
        expect(yield* Effect.flip(call)).toMatchObject({ reason: "Status", status: 500 })
        expect(yield* call).toEqual({ n: 2 })
        // Read to its end, the first socket would have gone back to the agent and served this call.
        expect(fake.requests.map((request) => request.socket)).toEqual([0, 1])
        yield* Effect.promise(() => fake.sockets[0]!.closed)
      }).pipe(Effect.provide(withUpstream(fake.url)))
    }).pipe(Effect.provide(captureLogs().layer)), 10_000)

  it.live("keep-alive: consecutive calls reuse one socket, non-2xx answers included (their small body is read, not cut)", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.promise(() => startUpstream())
      for (let i = 0; i < 5; i++) fake.script.push({ status: i % 2 === 0 ? 503 : 404, text: "upstream overloaded, try later" })
      yield* Effect.gen(function*() {
        for (let i = 0; i < 5; i++) expect(yield* Effect.flip(call)).toMatchObject({ reason: "Status" })
        expect(yield* call).toEqual({ ok: true })
      }).pipe(Effect.provide(withUpstream(fake.url)))
      expect(fake.requests).toHaveLength(6)
      expect(fake.sockets).toHaveLength(1)
    }).pipe(Effect.provide(captureLogs().layer)), 10_000)
})
