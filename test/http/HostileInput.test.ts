// What a hostile client sends to the public routes, byte for byte over a real socket: odd methods,
// garbage query strings, absurd headers, deep or huge JSON. Every answer is a 4xx whose body is
// exactly {"error", "message"}, never a 5xx, and never quotes the body back. The core routes plus
// a test-only feature with a JSON body (the jobs feature has its own copy in test/jobs).
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { MAX_JSON_DEPTH } from "../../src/http/BoundedJson.js"
import { captureLogs } from "../support/captureLogs.js"
import { leakCheck } from "../support/LeakCheck.js"
import { startServing } from "../support/publicServer.js"
import { exchange, expectErrorBody, json, nested, request, SECRET } from "./rawHttp.js"
import * as WidgetsFeature from "./widgetsFeature.js"

const start = startServing({ features: Layer.empty, api: WidgetsFeature.served })

const cases: ReadonlyArray<readonly [name: string, bytes: Buffer, status: number, error: string]> = [
  ["PROPFIND /healthz", request("PROPFIND", "/healthz"), 405, "MethodNotAllowed"],
  ["DELETE /sleep", request("DELETE", "/sleep?ms=1"), 405, "MethodNotAllowed"],
  ["PUT /widgets/:name with a body", request("PUT", "/widgets/abc", json, `{"size":1}`), 405, "MethodNotAllowed"],
  ["PROPFIND /nope", request("PROPFIND", "/nope"), 404, "NotFound"],
  ["OPTIONS *", request("OPTIONS", "*"), 404, "NotFound"],
  ["GET //", request("GET", "//"), 400, "BadRequest"],
  ["GET //%", request("GET", "//%"), 400, "BadRequest"],
  ["GET an absolute-form target new URL cannot parse", request("GET", "http://[/nope"), 400, "BadRequest"],
  ["GET http://", request("GET", "http://"), 400, "BadRequest"],
  ["GET /\\", request("GET", "/\\"), 400, "BadRequest"],
  ["POST http://[::1/", request("POST", "http://[::1/", json, "{}"), 400, "BadRequest"],
  ["PATCH http://[/healthz (the server refuses the target before any route)", request("PATCH", "http://[/healthz"), 400, "BadRequest"],
  ["GET /sleep?ms=%ZZ", request("GET", "/sleep?ms=%ZZ"), 400, "BadRequest"],
  ["GET /sleep?ms=1e400", request("GET", "/sleep?ms=1e400"), 400, "BadRequest"],
  ["GET /sleep?ms=-1", request("GET", "/sleep?ms=-1"), 400, "BadRequest"],
  ["GET /sleep?ms[]=1", request("GET", "/sleep?ms[]=1"), 400, "BadRequest"],
  ["GET /sleep?ms=1&ms=2", request("GET", "/sleep?ms=1&ms=2"), 400, "BadRequest"],
  ["GET /sleep?ms=<secret>", request("GET", `/sleep?ms=${SECRET}`), 400, "BadRequest"],
  ["GET /sleep?ms=", request("GET", "/sleep?ms="), 400, "BadRequest"],
  ["GET /sleep?ms=1%00", request("GET", "/sleep?ms=1%00"), 400, "BadRequest"],
  ["GET /sleep?%ZZ=1", request("GET", "/sleep?%ZZ=1"), 400, "BadRequest"],
  ["GET /sleep?ms=9...9 (1000 digits)", request("GET", `/sleep?ms=${"9".repeat(1_000)}`), 400, "BadRequest"],
  ["POST, Content-Type garbage", request("POST", "/widgets", { "content-type": ";;;/=garbage" }, `{"size":"${SECRET}"}`), 415, "UnsupportedMediaType"],
  ["POST, text/plain", request("POST", "/widgets", { "content-type": "text/plain" }, SECRET), 415, "UnsupportedMediaType"],
  ["POST, octet-stream", request("POST", "/widgets", { "content-type": "application/octet-stream" }, SECRET), 415, "UnsupportedMediaType"],
  ["POST, a form", request("POST", "/widgets", { "content-type": "application/x-www-form-urlencoded" }, `size=${SECRET}`), 415, "UnsupportedMediaType"],
  ["POST, multipart without a boundary", request("POST", "/widgets", { "content-type": "multipart/form-data" }, SECRET), 415, "UnsupportedMediaType"],
  [
    "POST, truncated multipart",
    request("POST", "/widgets", { "content-type": "multipart/form-data; boundary=x" }, `--x\r\n${SECRET}`),
    415,
    "UnsupportedMediaType"
  ],
  [
    "POST, Content-Length shorter than the body (the rest is the next request)",
    request("POST", "/widgets", { ...json, "content-length": "5" }, `{"ms"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n`),
    400,
    "BadRequest"
  ],
  ["POST, Content-Length over 1 MiB (no body sent)", request("POST", "/widgets", { ...json, "content-length": String(2 * 1024 * 1024) }), 413, "PayloadTooLarge"],
  ["POST, gzip bytes it cannot read", request("POST", "/widgets", { ...json, "content-encoding": "gzip" }, Buffer.from([0x1f, 0x8b, 8, 0, 0, 0])), 400, "BadRequest"],
  ["POST, JSON with a UTF-16 charset", request("POST", "/widgets", { "content-type": "application/json; charset=utf-16" }, `{"size":"${SECRET}"}`), 400, "BadRequest"],
  ["POST, empty body", request("POST", "/widgets", json, ""), 400, "BadRequest"],
  ["POST, not JSON", request("POST", "/widgets", json, `{${SECRET}`), 400, "BadRequest"],
  ["POST, invalid UTF-8", request("POST", "/widgets", json, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), 400, "BadRequest"],
  ["POST, a string for a number", request("POST", "/widgets", json, `{"size":"${SECRET}"}`), 400, "BadRequest"],
  ["POST, an object for a number", request("POST", "/widgets", json, `{"size":{"${SECRET}":1}}`), 400, "BadRequest"],
  ["POST, an array body", request("POST", "/widgets", json, `["${SECRET}"]`), 400, "BadRequest"],
  ["POST, 1e400 for a number", request("POST", "/widgets", json, `{"size":1e400}`), 400, "BadRequest"],
  ["POST, -1e400 deep in the data", request("POST", "/widgets", json, `{"size":1,"data":{"n":[-1e400]}}`), 400, "BadRequest"],
  ["POST, 20 KB of [[[[", request("POST", "/widgets", json, "[".repeat(20_000)), 400, "BadRequest"],
  ["POST, 40 KB of deep valid JSON", request("POST", "/widgets", json, `{"size":1,"data":${nested(20_000)}}`), 400, "BadRequest"],
  ["POST, data one level too deep", request("POST", "/widgets", json, `{"size":1,"data":${nested(MAX_JSON_DEPTH)}}`), 400, "BadRequest"],
  ["POST, deep data and no content-type", request("POST", "/widgets", {}, `{"size":1,"data":${nested(20_000)}}`), 400, "BadRequest"]
]

describe("hostile input on the public routes", () => {
  it.live.each(cases.map(([name, bytes, status, error]) => ({ name, bytes, status, error })))(
    "$name -> $status $error, JSON {error, message}, the body not echoed",
    ({ bytes, error, status }) =>
      leakCheck(Effect.gen(function*() {
        const { port } = yield* start
        expectErrorBody(yield* exchange(port, bytes), status, error)
      }).pipe(Effect.provide(captureLogs().layer))),
    10_000
  )

  it.live("the depth limit is inclusive and the 400 names it", () =>
    leakCheck(Effect.gen(function*() {
      const { port } = yield* start
      // The body's object is level 1, so `data` may nest MAX_JSON_DEPTH - 1 levels.
      const atLimit = yield* exchange(port, request("POST", "/widgets", json, `{"size":0,"data":${nested(MAX_JSON_DEPTH - 1)}}`))
      expect(atLimit.status).toBe(200)
      expect(JSON.parse(atLimit.body)).toEqual({ size: 0, data: JSON.parse(nested(MAX_JSON_DEPTH - 1)) })
      const over = expectErrorBody(
        yield* exchange(port, request("POST", "/widgets", json, `{"size":0,"data":${nested(MAX_JSON_DEPTH)}}`)),
        400,
        "BadRequest"
      )
      expect(over.message).toBe(`the request body is refused: JSON nested deeper than ${MAX_JSON_DEPTH} levels`)
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  it.live("after all that the server still serves, and logged no error", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const { port } = yield* start
      for (const [, bytes] of cases) yield* exchange(port, bytes)
      const health = yield* exchange(port, request("GET", "/healthz"))
      expect(health).toMatchObject({ status: 200, body: `{"status":"ok"}` })
      expect(logs.lines.filter((line) => line.level === "error")).toEqual([])
    }).pipe(Effect.provide(logs.layer)))
  }, 20_000)
})
