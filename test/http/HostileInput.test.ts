// What a hostile client sends to the public routes, byte for byte over a real socket: odd methods,
// garbage query strings, absurd headers, deep or huge JSON. Every answer is a 4xx whose body is
// exactly {"error", "message"}, never a 5xx, and never quotes the body back.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { MAX_JSON_DEPTH } from "../../src/http/BoundedJson.js"
import * as JobsFeature from "../../src/jobs/JobsFeature.js"
import * as UpstreamFeature from "../../src/resilience/UpstreamFeature.js"
import { captureLogs } from "../support/captureLogs.js"
import { leakCheck } from "../support/LeakCheck.js"
import { startPublic } from "../support/publicServer.js"
import { RawConnection, type RawResponse } from "../support/RawConnection.js"

const SECRET = "SECRET-abc"

/** One HTTP/1.1 request as raw bytes; Content-Length is computed unless `headers` sets it. */
const request = (method: string, target: string, headers: Record<string, string> = {}, body?: string | Buffer) => {
  const length = body === undefined || "content-length" in headers ? {} : { "content-length": String(Buffer.byteLength(body)) }
  const head = Object.entries({ host: "test", ...length, ...headers }).map(([name, value]) => `${name}: ${value}\r\n`).join("")
  return Buffer.concat([Buffer.from(`${method} ${target} HTTP/1.1\r\n${head}\r\n`, "latin1"), Buffer.from(body ?? "")])
}

const json = { "content-type": "application/json" }
const nested = (depth: number, inner = "0") => "[".repeat(depth) + inner + "]".repeat(depth)

/** Features on: their groups are served, so their routes are in the table too. */
const start = Effect.gen(function*() {
  const dataDir = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "hostile-")))
  return yield* startPublic({
    features: Layer.merge(JobsFeature.layer, UpstreamFeature.layer),
    config: { dataDir, workers: 1, jobQueueSize: 10 }
  })
})

const exchange = (port: number, bytes: Buffer) =>
  Effect.promise(async (): Promise<RawResponse> => {
    const connection = await RawConnection.open(port)
    connection.socket.write(bytes)
    return connection.nextResponse()
  })

const cases: ReadonlyArray<readonly [name: string, bytes: Buffer, status: number, error: string]> = [
  ["PROPFIND /healthz", request("PROPFIND", "/healthz"), 405, "MethodNotAllowed"],
  ["DELETE /jobs", request("DELETE", "/jobs"), 405, "MethodNotAllowed"],
  ["PUT /jobs/:id with a body", request("PUT", "/jobs/abc", json, `{"ms":1}`), 405, "MethodNotAllowed"],
  ["POST /upstream (a feature's group)", request("POST", "/upstream", json, "{}"), 405, "MethodNotAllowed"],
  ["PROPFIND /nope", request("PROPFIND", "/nope"), 404, "NotFound"],
  ["GET //", request("GET", "//"), 400, "BadRequest"],
  ["GET //%", request("GET", "//%"), 400, "BadRequest"],
  ["GET an absolute-form target new URL cannot parse", request("GET", "http://[/nope"), 400, "BadRequest"],
  ["OPTIONS *", request("OPTIONS", "*"), 404, "NotFound"],
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
  ["GET /jobs/%ZZ", request("GET", "/jobs/%ZZ"), 404, "NotFound"],
  ["POST /jobs, Content-Length over 1 MiB (no body sent)", request("POST", "/jobs", { ...json, "content-length": String(2 * 1024 * 1024) }), 413, "PayloadTooLarge"],
  ["POST /jobs, gzip bytes it cannot read", request("POST", "/jobs", { ...json, "content-encoding": "gzip" }, Buffer.from([0x1f, 0x8b, 8, 0, 0, 0])), 400, "BadRequest"],
  ["POST /jobs, JSON with a UTF-16 charset", request("POST", "/jobs", { "content-type": "application/json; charset=utf-16" }, `{"ms":"${SECRET}"}`), 400, "BadRequest"],
  ["POST /jobs, Content-Type garbage", request("POST", "/jobs", { "content-type": ";;;/=garbage" }, `{"ms":"${SECRET}"}`), 415, "UnsupportedMediaType"],
  ["POST /jobs, text/plain", request("POST", "/jobs", { "content-type": "text/plain" }, SECRET), 415, "UnsupportedMediaType"],
  ["POST /jobs, octet-stream", request("POST", "/jobs", { "content-type": "application/octet-stream" }, SECRET), 415, "UnsupportedMediaType"],
  ["POST /jobs, a form", request("POST", "/jobs", { "content-type": "application/x-www-form-urlencoded" }, `ms=${SECRET}`), 415, "UnsupportedMediaType"],
  ["POST /jobs, multipart without a boundary", request("POST", "/jobs", { "content-type": "multipart/form-data" }, SECRET), 415, "UnsupportedMediaType"],
  [
    "POST /jobs, truncated multipart",
    request("POST", "/jobs", { "content-type": "multipart/form-data; boundary=x" }, `--x\r\n${SECRET}`),
    415,
    "UnsupportedMediaType"
  ],
  [
    "POST /jobs, Content-Length shorter than the body (the rest is the next request)",
    request("POST", "/jobs", { ...json, "content-length": "5" }, `{"ms"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n`),
    400,
    "BadRequest"
  ],
  ["POST /jobs, empty body", request("POST", "/jobs", json, ""), 400, "BadRequest"],
  ["POST /jobs, not JSON", request("POST", "/jobs", json, `{${SECRET}`), 400, "BadRequest"],
  ["POST /jobs, invalid UTF-8", request("POST", "/jobs", json, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), 400, "BadRequest"],
  ["POST /jobs, a string for ms", request("POST", "/jobs", json, `{"ms":"${SECRET}"}`), 400, "BadRequest"],
  ["POST /jobs, an object for ms", request("POST", "/jobs", json, `{"ms":{"${SECRET}":1}}`), 400, "BadRequest"],
  ["POST /jobs, an array body", request("POST", "/jobs", json, `["${SECRET}"]`), 400, "BadRequest"],
  ["POST /jobs, ms 1e400", request("POST", "/jobs", json, `{"ms":1e400}`), 400, "BadRequest"],
  ["POST /jobs, payload 1e400", request("POST", "/jobs", json, `{"ms":1,"payload":{"n":-1e400}}`), 400, "BadRequest"],
  ["POST /jobs, 20 KB of [[[[", request("POST", "/jobs", json, "[".repeat(20_000)), 400, "BadRequest"],
  ["POST /jobs, 20 KB deep valid JSON", request("POST", "/jobs", json, nested(10_000)), 400, "BadRequest"],
  ["POST /jobs, a payload one level too deep", request("POST", "/jobs", json, `{"ms":1,"payload":${nested(MAX_JSON_DEPTH)}}`), 400, "BadRequest"],
  ["POST /jobs, a deep payload and no content-type", request("POST", "/jobs", {}, `{"ms":1,"payload":${nested(5_000)}}`), 400, "BadRequest"]
]

describe("hostile input on the public routes", () => {
  it.live.each(cases.map(([name, bytes, status, error]) => ({ name, bytes, status, error })))(
    "$name -> $status $error, JSON {error, message}, the body not echoed",
    ({ bytes, error, status }) =>
    leakCheck(Effect.gen(function*() {
      const { port } = yield* start
      const response = yield* exchange(port, bytes)
      expect(response.status).toBe(status)
      expect(response.headers["content-type"]).toBe("application/json")
      const body = JSON.parse(response.body)
      expect(Object.keys(body).sort()).toEqual(["error", "message"])
      expect(body).toEqual({ error, message: expect.any(String) })
      expect(response.body).not.toContain(SECRET)
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  it.live("the depth limit is inclusive and the 400 names it; a job at the limit is accepted", () =>
    leakCheck(Effect.gen(function*() {
      const { port } = yield* start
      // The body's object is level 1, so the payload may nest MAX_JSON_DEPTH - 1 levels.
      const atLimit = yield* exchange(port, request("POST", "/jobs", json, `{"ms":0,"payload":${nested(MAX_JSON_DEPTH - 1)}}`))
      expect(atLimit.status).toBe(202)
      const over = yield* exchange(port, request("POST", "/jobs", json, `{"ms":0,"payload":${nested(MAX_JSON_DEPTH)}}`))
      expect(over.status).toBe(400)
      expect(JSON.parse(over.body).message).toContain(`${MAX_JSON_DEPTH} levels`)
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  it.live("after all that the server still serves", () =>
    leakCheck(Effect.gen(function*() {
      const { port } = yield* start
      for (const [, bytes] of cases) yield* exchange(port, bytes)
      const health = yield* exchange(port, request("GET", "/healthz"))
      expect(health).toMatchObject({ status: 200, body: `{"status":"ok"}` })
    }).pipe(Effect.provide(captureLogs().layer))), 20_000)
})
