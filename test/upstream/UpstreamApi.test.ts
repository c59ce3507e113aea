// The upstream feature's route, served as App.ts serves it (UpstreamFeature.layer on its node client, its group and handlers on the public listener).
import { describe, expect, it } from "@effect/vitest"
import { HttpApiBuilder } from "@effect/platform"
import { Effect, Layer } from "effect"
import * as Core from "../../src/http/public/CoreApi.js"
import * as UpstreamFeature from "../../src/upstream/UpstreamFeature.js"
import { expectErrors } from "../http/openApiDocument.js"
import { captureLogs } from "../support/captureLogs.js"
import { leakCheck } from "../support/LeakCheck.js"
import { get, startServing } from "../support/publicServer.js"
import { RawConnection } from "../support/RawConnection.js"
import type { Env } from "../support/testConfig.js"
import { startUpstream } from "./fakeUpstream.js"

/** The core routes and GET /upstream, as App.ts serves them. */
const upstreamServed = HttpApiBuilder.api(Core.CoreApi.add(UpstreamFeature.Group)).pipe(
  Layer.provide(Core.handlers),
  Layer.provide(UpstreamFeature.handlers)
)

const startPublicWith = (config: Env) =>
  startServing({ features: Layer.provide(UpstreamFeature.layer, UpstreamFeature.HttpClientLive), api: upstreamServed, config })

/** What GET /upstream can answer besides success (DESIGN section 4): 503 when unconfigured, while the
 * breaker is open, when the upstream failed after retries, or when the request's own timeout cut
 * the call; a defect (500). Never a 4xx: it reads no input. */
const UPSTREAM_ERRORS = {
  "get /upstream": {
    500: ["InternalServerError"],
    503: ["CircuitOpen", "RequestTimeout", "UpstreamNotConfigured", "UpstreamUnavailable"]
  }
}

describe("upstream route", () => {
  it.live("/openapi.json: GET /upstream has a summary and lists only the errors it can answer", () =>
    leakCheck(Effect.gen(function*() {
      const { baseUrl } = yield* startPublicWith({})
      const { body } = yield* get(`${baseUrl}/openapi.json`)
      expectErrors(body, UPSTREAM_ERRORS)
      expect(body.paths["/upstream"].get.summary).toMatch(/\w/)
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  it.live("GET /upstream wraps the upstream's JSON; unset URL -> 503 UpstreamNotConfigured", () =>
    leakCheck(Effect.gen(function*() {
      const fake = yield* Effect.promise(() => startUpstream())
      fake.script.push({ status: 200, body: { price: 42 } })
      const { baseUrl } = yield* startPublicWith({ UPSTREAM_URL: fake.url })
      expect(yield* get(`${baseUrl}/upstream`)).toMatchObject({ status: 200, body: { upstream: { price: 42 } } })
      const unset = yield* startPublicWith({})
      expect(yield* get(`${unset.baseUrl}/upstream`)).toMatchObject({ status: 503, body: { error: "UpstreamNotConfigured" } })
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  it.live("a client that disconnects mid-call: the upstream sees its socket closed at once, not at the attempt timeout; the handler saw the interrupt", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const fake = yield* Effect.promise(() => startUpstream())
      fake.script.push("hang")
      const { baseUrl } = yield* startPublicWith({ UPSTREAM_URL: fake.url, UPSTREAM_TIMEOUT_MS: "10000" })
      const client = yield* Effect.promise(() => RawConnection.open(Number(new URL(baseUrl).port)))
      client.request("/upstream")
      while (fake.requests.length === 0) yield* Effect.sleep("5 millis") // the upstream's own record is the event
      client.destroy()
      const destroyedAt = performance.now()
      yield* logs.waitForLine((line) => line.message === "upstream call interrupted")
      while (fake.requests[0]!.closedAt === undefined && performance.now() - destroyedAt < 5_000) yield* Effect.sleep("5 millis")
      // Well before the 10 s attempt timeout; loose, so a loaded machine (2 cores, load ~10) is not a failure.
      expect(fake.requests[0]!.closedAt! - destroyedAt).toBeLessThan(3_000)
    }).pipe(Effect.provide(logs.layer)))
  }, 10_000)

  it.live("an upstream answering 200 with JSON nested 100 000 deep is its failure: 503 UpstreamUnavailable, not a 4xx or 500", () =>
    leakCheck(Effect.gen(function*() {
      const fake = yield* Effect.promise(() => startUpstream())
      fake.script.push({ status: 200, text: "[".repeat(100_000) + "]".repeat(100_000) })
      const { baseUrl } = yield* startPublicWith({ UPSTREAM_URL: fake.url })
      expect(yield* get(`${baseUrl}/upstream`)).toMatchObject({ status: 503, body: { error: "UpstreamUnavailable" } })
      expect(yield* get(`${baseUrl}/upstream`)).toMatchObject({ status: 200, body: { upstream: { ok: true } } })
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)
})
