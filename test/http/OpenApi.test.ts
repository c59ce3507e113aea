// The core's OpenAPI document, as served (/openapi.json) and as Swagger UI renders it (/docs): an
// integer `ms` with the bounds the decode enforces, a summary per operation, on each operation
// only the errors it can answer, examples safe to run, no Authorize button. Each feature checks
// its own operations the same way (test/jobs/JobsApi.test.ts, test/upstream/UpstreamApi.test.ts).
import { FetchHttpClient, HttpApiClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import { CoreApi as Api, MAX_SLEEP_MS, SleepMs } from "../../src/http/public/CoreApi.js"
import { RequestTimeout } from "../../src/http/public/ApiErrors.js"
import { captureLogs } from "../support/captureLogs.js"
import { leakCheck } from "../support/LeakCheck.js"
import { get, startPublic } from "../support/publicServer.js"
import { exchange, expectErrorBody, request } from "./rawHttp.js"
import { docsPageSpec, examplesOf, expectErrors, operations } from "./openApiDocument.js"

/** What each core route can answer besides success (DESIGN section 4): readiness's 503s, a bad
 * `ms` (400) or a wait past the request timeout (503); a defect (500) anywhere. */
const CORE_ERRORS = {
  "get /healthz": { 500: ["InternalServerError"] },
  "get /readyz": { 500: ["InternalServerError"], 503: ["Draining", "NotReady"] },
  "get /sleep": { 400: ["BadRequest"], 500: ["InternalServerError"], 503: ["RequestTimeout"] }
}

/** "Try it out" runs what the document suggests: nothing that holds a request or a worker long. */
const SAFE_MS = 1_000

const served = Effect.gen(function*() {
  const { baseUrl } = yield* startPublic()
  const { body, status } = yield* get(`${baseUrl}/openapi.json`)
  expect(status).toBe(200)
  return { baseUrl, document: body as Record<string, any> }
})

describe("OpenAPI document (core)", () => {
  it.live("ms is an integer with the bounds the decode enforces, and its example is safe to run", () =>
    leakCheck(Effect.gen(function*() {
      const { baseUrl, document } = yield* served
      const ms = document.paths["/sleep"].get.parameters.find((parameter: any) => parameter.name === "ms")
      expect(ms).toMatchObject({ in: "query", required: true, schema: { type: "integer", minimum: 0, maximum: MAX_SLEEP_MS } })
      const { minimum, maximum } = ms.schema
      const decode = Schema.decodeUnknownEither(SleepMs)
      expect([minimum, maximum].map((n) => Either.isRight(decode(String(n))))).toEqual([true, true])
      expect([minimum - 1, maximum + 1, 1.5].map((n) => Either.isLeft(decode(String(n))))).toEqual([true, true, true])
      // Swagger UI fills the field from the parameter's `example`.
      expect(ms.example).toBeGreaterThanOrEqual(minimum)
      expect(ms.example).toBeLessThanOrEqual(SAFE_MS)
      for (const example of examplesOf(document, "ms")) expect(example).toBeLessThanOrEqual(SAFE_MS)
      expect(yield* get(`${baseUrl}/sleep?ms=${ms.example}`)).toMatchObject({ status: 200, body: { sleptMs: ms.example } })
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  it.live("every operation has a summary", () =>
    leakCheck(Effect.gen(function*() {
      const { document } = yield* served
      const all = operations(document)
      expect([...all.keys()].sort()).toEqual(Object.keys(CORE_ERRORS).sort())
      for (const [key, operation] of all) expect({ [key]: operation.summary }).toEqual({ [key]: expect.stringMatching(/\w/) })
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  it.live("each operation lists only the errors it can answer; the API-wide ones are described once", () =>
    leakCheck(Effect.gen(function*() {
      const { document } = yield* served
      expectErrors(document, CORE_ERRORS)
      expect(JSON.stringify(document)).not.toContain("HttpApiDecodeError")
      for (const answer of ["404 `NotFound`", "405 `MethodNotAllowed`", "413 `PayloadTooLarge`", "503 `RequestTimeout`", "500 `InternalServerError`"]) {
        expect(document.info.description).toContain(answer)
      }
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  it.live("the API-wide errors are still answered where no operation lists them", () =>
    leakCheck(Effect.gen(function*() {
      const { baseUrl } = yield* served
      expect(yield* get(`${baseUrl}/nope`)).toMatchObject({ status: 404, body: { error: "NotFound" } })
      // A GET announcing a body over 1 MiB (fetch would drop the header): refused before routing.
      const port = Number(new URL(baseUrl).port)
      const announced = yield* exchange(port, request("GET", "/healthz", { "content-length": String(2 * 1024 * 1024) }))
      expectErrorBody(announced, 413, "PayloadTooLarge")
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  it.live("a wait past the request timeout is the declared 503 RequestTimeout, decoded by the typed client", () =>
    leakCheck(Effect.gen(function*() {
      const { baseUrl } = yield* served // startPublic's request timeout: 5 s
      const client = yield* HttpApiClient.make(Api, { baseUrl })
      const result = yield* Effect.either(client.work.sleep({ urlParams: { ms: 60_000 } }))
      expect(Either.isLeft(result) && result.left instanceof RequestTimeout).toBe(true)
    }).pipe(Effect.provide([FetchHttpClient.layer, captureLogs().layer]))), 20_000)

  it.live("no security: no Authorize button in Swagger UI, and /docs renders the same document", () =>
    leakCheck(Effect.gen(function*() {
      const { baseUrl, document } = yield* served
      // Swagger UI shows Authorize whenever components.securitySchemes exists, even empty.
      expect(document.components?.securitySchemes).toBeUndefined()
      expect(document.security).toBeUndefined()
      for (const [key, operation] of operations(document)) expect({ [key]: operation.security }).toEqual({ [key]: undefined })
      expect(yield* docsPageSpec(baseUrl)).toEqual(document)
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)
})
