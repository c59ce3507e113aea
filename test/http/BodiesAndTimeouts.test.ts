// Bodies and timeouts the client can read: an answer given before the request body was read (too
// large, or the request timed out) reaches the client whole, then the connection closes; never a
// reset. And http_requests_total counts the status that went on the wire.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { MAX_BODY_BYTES } from "../../src/http/public/ErrorsMiddleware.js"
import * as Prometheus from "../../src/observability/Prometheus.js"
import { leakCheck } from "../support/LeakCheck.js"
import { parsePrometheus, valueOf } from "../support/parsePrometheus.js"
import type { RawConnection } from "../support/RawConnection.js"
import { readAll, stillServes, withEdgeServer } from "./edgeHarness.js"

const TEST_TIMEOUT = 15_000
const response = (connection: RawConnection, timeoutMs?: number) => Effect.promise(() => connection.nextResponse(timeoutMs))

/** Every response head in what the socket received. */
const heads = (received: string) => received.match(/HTTP\/1\.1 \d{3}[^\r]*/g) ?? []

/** 2 MiB of JSON-ish bytes in 16 KiB chunks, written as fast as the socket takes them. */
const streamChunked = (connection: RawConnection, total: number) => {
  const chunk = "x".repeat(16 * 1024)
  let sent = 0
  const pump = () => {
    while (sent < total && !connection.socket.destroyed) {
      sent += chunk.length
      if (!connection.socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`)) return void connection.socket.once("drain", pump)
    }
    if (!connection.socket.destroyed) connection.socket.write("0\r\n\r\n")
  }
  pump()
}

describe("bodies the server will not read", () => {
  it.live("a chunked body past 1 MiB (2 MiB streamed) -> the client reads a whole 413, then the connection closes", () =>
    leakCheck(withEdgeServer({}, (harness) =>
      Effect.gen(function*() {
        const c = yield* harness.connect
        const received = yield* Effect.fork(readAll(c))
        c.write("POST /body HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        streamChunked(c, 2 * MAX_BODY_BYTES)
        const got = yield* response(c)
        expect(got.status).toBe(413)
        expect(got.headers["connection"]).toBe("close")
        expect(JSON.parse(got.body)).toEqual({ error: "PayloadTooLarge", message: "too large" })
        expect(heads(yield* received)).toEqual(["HTTP/1.1 413 Payload Too Large"])
        expect(yield* stillServes(harness)).toBe(200)
        yield* yield* harness.beginShutdown
        expect(yield* harness.shutdown.forced).toEqual([])
      }))), TEST_TIMEOUT)

  it.live("Expect: 100-continue with Content-Length over 1 MiB -> 413 without 100 Continue, logged at warn", () =>
    leakCheck(withEdgeServer({}, (harness) =>
      Effect.gen(function*() {
        const c = yield* harness.connect
        const received = yield* Effect.fork(readAll(c))
        c.request("/body", "POST", { "content-length": String(2 * MAX_BODY_BYTES), "expect": "100-continue" })
        const got = yield* response(c)
        expect(got.status).toBe(413)
        expect(got.headers["connection"]).toBe("close")
        expect(JSON.parse(got.body)).toEqual({ error: "PayloadTooLarge", message: `the request body is larger than ${MAX_BODY_BYTES} bytes` })
        expect(heads(yield* received)).toEqual(["HTTP/1.1 413 Payload Too Large"])
        expect(harness.probes.seen).toEqual([])
        const line = yield* harness.waitForLine((line) => line.kind === "PayloadTooLarge")
        expect(line).toMatchObject({ level: "warn", declared: 2 * MAX_BODY_BYTES })
        expect(line.cause).toBeUndefined()
        yield* yield* harness.beginShutdown
      }))), TEST_TIMEOUT)

  it.live("Expect: 100-continue with a small body -> 100 Continue, then served", () =>
    leakCheck(withEdgeServer({}, (harness) =>
      Effect.gen(function*() {
        const c = yield* harness.connect
        c.request("/body", "POST", { "content-length": "5", "expect": "100-continue" })
        expect((yield* response(c)).status).toBe(100)
        c.write("hello")
        const got = yield* response(c)
        expect(got.status).toBe(200)
        expect(JSON.parse(got.body)).toEqual({ bytes: 5 })
        yield* yield* harness.beginShutdown
      }))), TEST_TIMEOUT)
})

describe("a body still arriving at the request timeout", () => {
  it.live("-> one readable 503 RequestTimeout with Connection: close, then the close; Node's own timeout never answers twice", () =>
    leakCheck(withEdgeServer({ requestTimeoutMs: 1_000 }, (harness) =>
      Effect.gen(function*() {
        const c = yield* harness.connect
        const received = yield* Effect.fork(readAll(c, 8_000))
        c.write("POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789")
        const got = yield* response(c, 6_000)
        expect(got.status).toBe(503)
        expect(got.headers["connection"]).toBe("close")
        expect(JSON.parse(got.body)).toEqual({ error: "RequestTimeout", message: "the request did not finish within 1000 ms" })
        // The client keeps sending; the server reads and drops it, then closes.
        c.write("more body bytes")
        expect(heads(yield* received)).toEqual(["HTTP/1.1 503 Service Unavailable"])
        expect(yield* stillServes(harness)).toBe(200)
        yield* yield* harness.beginShutdown
      }))), TEST_TIMEOUT)
})

describe("http_requests_total counts the status on the wire", () => {
  const scrape = Effect.map(Prometheus.scrape, parsePrometheus)
  const count = (families: Map<string, any>, method: string, status: number) =>
    valueOf(families, "http_requests_total", { method, route: "unmatched", status: String(status) })

  it.live("the parser answered 400 mid-body while the app waited: counted 400, not the app's 499", () =>
    leakCheck(withEdgeServer({}, (harness) =>
      Effect.gen(function*() {
        const before = yield* scrape
        const c = yield* harness.connect
        c.write("POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        yield* Effect.sleep("2 millis").pipe(Effect.repeat({ until: () => harness.probes.seen.length === 1 }))
        c.write("zz\r\n")
        expect((yield* response(c)).status).toBe(400)
        yield* Effect.promise(() => c.closed)
        yield* Effect.sleep("2 millis").pipe(Effect.repeat({ until: () => harness.server.stats().requestFibers === 0 }))
        const after = yield* scrape
        expect(count(after, "POST", 400) - count(before, "POST", 400)).toBe(1)
        expect(count(after, "POST", 499) - count(before, "POST", 499)).toBe(0)
        yield* yield* harness.beginShutdown
      }))), TEST_TIMEOUT)

  it.live("a bad request-target answered by the server: counted 400 (the app would have failed with 500)", () =>
    leakCheck(withEdgeServer({}, (harness) =>
      Effect.gen(function*() {
        const before = yield* scrape
        const c = yield* harness.connect
        c.write("GET //% HTTP/1.1\r\nHost: t\r\n\r\n")
        expect((yield* response(c)).status).toBe(400)
        const after = yield* scrape
        expect(count(after, "GET", 400) - count(before, "GET", 400)).toBe(1)
        expect(count(after, "GET", 500) - count(before, "GET", 500)).toBe(0)
        yield* yield* harness.beginShutdown
      }))), TEST_TIMEOUT)
})
