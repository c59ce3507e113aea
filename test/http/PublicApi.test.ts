// The public API's core routes served by our own server, called through the client derived from
// their declaration. Each feature tests its own routes beside it (test/jobs, test/upstream).
import { FetchHttpClient, HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { CoreApi as Api } from "../../src/http/public/CoreApi.js"
import { BadRequest, Draining } from "../../src/http/public/ApiErrors.js"
import { ShutdownReason } from "../../src/lifecycle/ShutdownReason.js"
import { captureLogs } from "../support/captureLogs.js"
import { leakCheck } from "../support/LeakCheck.js"
import { get, startPublic } from "../support/publicServer.js"

describe("public API", () => {
  it.live("healthz, readyz and sleep through the typed client", () =>
    leakCheck(Effect.gen(function*() {
      const { baseUrl, shutdown } = yield* startPublic()
      const client = yield* HttpApiClient.make(Api, { baseUrl })
      expect(yield* client.health.healthz()).toEqual({ status: "ok" })
      expect(yield* client.health.readyz()).toEqual({ status: "ready" })
      expect(yield* client.work.sleep({ urlParams: { ms: 5 } })).toEqual({ sleptMs: 5 })
      yield* shutdown.trigger(ShutdownReason.Admin())
      const draining = yield* Effect.either(client.health.readyz())
      expect(Either.isLeft(draining) && draining.left instanceof Draining).toBe(true)
      expect(yield* client.health.healthz()).toEqual({ status: "ok" }) // liveness is not readiness
    }).pipe(Effect.provide([FetchHttpClient.layer, captureLogs().layer]))), 10_000)

  it.live.each([
    ["abc", "must be a non-negative integer"],
    ["-1", "must be a non-negative integer"],
    ["1.5", "must be a non-negative integer"],
    ["1e3", "must be a non-negative integer"],
    ["%205", "must be a non-negative integer"],
    ["600001", "must be at most 600000"]
  ])("GET /sleep?ms=%s -> 400 JSON naming the problem", ([ms, problem]) =>
    leakCheck(Effect.gen(function*() {
      const { baseUrl } = yield* startPublic()
      const response = yield* get(`${baseUrl}/sleep?ms=${ms}`)
      expect(response).toEqual({ status: 400, type: "application/json", body: { error: "BadRequest", message: `ms: ${problem}` } })
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  it.live("missing ms -> 400; unknown route -> 404; both {error, message}", () =>
    leakCheck(Effect.gen(function*() {
      const { baseUrl } = yield* startPublic()
      expect(yield* get(`${baseUrl}/sleep`)).toEqual({
        status: 400,
        type: "application/json",
        body: { error: "BadRequest", message: "ms: is missing" }
      })
      expect(yield* get(`${baseUrl}/nope?x=1`)).toEqual({
        status: 404,
        type: "application/json",
        body: { error: "NotFound", message: "no route for GET /nope" }
      })
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  it.live("contract: the served 400 decodes as the declared BadRequest error", () =>
    leakCheck(Effect.gen(function*() {
      const { baseUrl } = yield* startPublic()
      // The client validates before sending; rewrite the wire value to reach the server's check.
      const client = yield* HttpApiClient.make(Api, {
        baseUrl,
        transformClient: HttpClient.mapRequest(HttpClientRequest.setUrlParam("ms", "soon"))
      })
      const result = yield* Effect.either(client.work.sleep({ urlParams: { ms: 1 } }))
      expect(Either.isLeft(result) && result.left instanceof BadRequest).toBe(true)
      expect(Either.isLeft(result) && "message" in result.left ? result.left.message : "").toBe("ms: must be a non-negative integer")
    }).pipe(Effect.provide([FetchHttpClient.layer, captureLogs().layer]))), 10_000)

  it.live("/openapi.json is generated from the declaration and promises our error shape only", () =>
    leakCheck(Effect.gen(function*() {
      const { baseUrl } = yield* startPublic()
      const { body, status } = yield* get(`${baseUrl}/openapi.json`)
      expect(status).toBe(200)
      expect(Object.keys(body.paths).sort()).toEqual(["/healthz", "/readyz", "/sleep"])
      expect(JSON.stringify(body)).not.toContain("HttpApiDecodeError")
      expect(body.paths["/sleep"].get.responses["400"].content["application/json"].schema).toEqual({
        $ref: "#/components/schemas/BadRequest"
      })
      const docs = yield* Effect.promise(() => fetch(`${baseUrl}/docs`))
      expect(docs.status).toBe(200)
      expect(docs.headers.get("content-type")).toContain("text/html")
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

})
