// What the server answers for requests Node accepts but the app cannot use, before the app (or
// the route that takes upgrades) sees them: request-targets that are not URLs, upgrades nobody
// takes, bytes Node's parser rejects. Real sockets on 127.0.0.1:0.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { leakCheck } from "../support/LeakCheck.js"
import type { RawConnection } from "../support/RawConnection.js"
import { readAll, stillServes, withEdgeServer } from "./edgeHarness.js"

const TEST_TIMEOUT = 20_000
const response = (connection: RawConnection) => Effect.promise(() => connection.nextResponse())

/** Warn, no cause (no stack): a client error, not ours. */
const clientErrorLine = { level: "warn" }

describe("request-targets that are not URLs", () => {
  const targets = ["http://[", "//%", "http://a:b@[::1/x", "//[::1"]

  for (const target of targets) {
    it.live(`GET ${target} -> 400 BadRequest JSON, decided before the app runs; the socket stays usable`, () =>
      leakCheck(withEdgeServer({}, (harness) =>
        Effect.gen(function*() {
          const c = yield* harness.connect
          c.write(`GET ${target} HTTP/1.1\r\nHost: t\r\n\r\n`)
          const got = yield* response(c)
          expect(got.status).toBe(400)
          expect(got.headers["content-type"]).toBe("application/json")
          expect(JSON.parse(got.body)).toEqual({ error: "BadRequest", message: "the request-target is not a valid URL" })
          expect(got.body).not.toContain(target)
          expect(harness.probes.seen).toEqual([])
          const line = yield* harness.waitForLine((line) => line.kind === "BadRequestTarget")
          expect(line).toMatchObject(clientErrorLine)
          expect(line.cause).toBeUndefined()
          c.request("/ok")
          expect((yield* response(c)).status).toBe(200)
          yield* yield* harness.beginShutdown
        }))), TEST_TIMEOUT)
  }

  it.live("the same target on an upgrade request -> 400; the route that takes upgrades never sees it", () =>
    leakCheck(withEdgeServer({
      takeUpgrade: (request) => {
        new URL(request.url ?? "/", "http://x") // the hub does this: it must never get a bad target
      }
    }, (harness) =>
      Effect.gen(function*() {
        const c = yield* harness.connect
        c.write("GET //% HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        const got = yield* response(c)
        expect(got.status).toBe(400)
        expect(JSON.parse(got.body)).toMatchObject({ error: "BadRequest" })
        expect(harness.lines.filter((line) => String(line.message).includes("threw"))).toEqual([])
        yield* yield* harness.beginShutdown
      }))), TEST_TIMEOUT)
})

describe("Connection: Upgrade that nobody upgrades is a plain request", () => {
  it.live("h2c (curl --http2) on /ok -> 200, and the keep-alive socket serves the next request", () =>
    leakCheck(withEdgeServer({}, (harness) =>
      Effect.gen(function*() {
        const c = yield* harness.connect
        c.write(
          "GET /ok HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"
        )
        const got = yield* response(c)
        expect(got.status).toBe(200)
        expect(JSON.parse(got.body)).toEqual({ ok: true })
        c.request("/ok")
        expect((yield* response(c)).status).toBe(200)
        yield* yield* harness.beginShutdown
      }))), TEST_TIMEOUT)

  it.live("a WebSocket handshake on a path no route takes -> that route's answer (404), not a refusal", () =>
    leakCheck(withEdgeServer({}, (harness) =>
      Effect.gen(function*() {
        const c = yield* harness.connect
        c.write("GET /elsewhere HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n")
        const got = yield* response(c)
        expect(got.status).toBe(404)
        expect(harness.probes.seen).toEqual(["/elsewhere"])
        yield* yield* harness.beginShutdown
      }))), TEST_TIMEOUT)

  it.live("an upgrade request with a body: the body reaches the app", () =>
    leakCheck(withEdgeServer({}, (harness) =>
      Effect.gen(function*() {
        const c = yield* harness.connect
        c.write("POST /body HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 5\r\n\r\nhello")
        const got = yield* response(c)
        expect(got.status).toBe(200)
        expect(JSON.parse(got.body)).toEqual({ bytes: 5 })
        yield* yield* harness.beginShutdown
      }))), TEST_TIMEOUT)

  it.live("the route still takes its own path", () =>
    leakCheck(withEdgeServer({}, (harness) =>
      Effect.gen(function*() {
        const c = yield* harness.connect
        // A WebSocket handshake: the only upgrade the server offers to a route.
        c.write("GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        yield* Effect.promise(() =>
          new Promise<void>((resolve) => c.socket.once("data", (chunk) => chunk.toString().startsWith("HTTP/1.1 101") && resolve()))
        )
        c.destroy()
        expect(yield* yield* harness.beginShutdown).toBeLessThan(3_000) // not the 5 s budget
        expect(yield* harness.shutdown.forced).toEqual([])
      }))), TEST_TIMEOUT)
})

describe("bytes Node's parser rejects", () => {
  for (const [what, bytes] of [
    ["a malformed request line", "NOT HTTP AT ALL\r\n\r\n"],
    ["a header with a space in its name", "GET /ok HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n"],
    ["an invalid chunk size", "POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]
  ] as const) {
    it.live(`${what} -> a clean 400 JSON with Connection: close, logged at warn without a stack`, () =>
      leakCheck(withEdgeServer({}, (harness) =>
        Effect.gen(function*() {
          const c = yield* harness.connect
          const all = yield* Effect.fork(readAll(c))
          c.write(bytes)
          const got = yield* response(c)
          expect(got.status).toBe(400)
          expect(got.headers["connection"]).toBe("close")
          expect(JSON.parse(got.body)).toEqual({ error: "BadRequest", message: "the request could not be parsed" })
          // One answer, then the close.
          expect((yield* all).match(/HTTP\/1\.1 /g)).toHaveLength(1)
          const line = yield* harness.waitForLine((line) => line.kind === "BadRequest")
          expect(line).toMatchObject({ ...clientErrorLine, code: expect.stringMatching(/^HPE_/) })
          expect(line.cause).toBeUndefined()
          expect(yield* stillServes(harness)).toBe(200)
          yield* yield* harness.beginShutdown
          expect(harness.registry.size()).toBe(0)
        }))), TEST_TIMEOUT)
  }

  it.live("CONNECT -> 400 JSON instead of a reset", () =>
    leakCheck(withEdgeServer({}, (harness) =>
      Effect.gen(function*() {
        const c = yield* harness.connect
        c.write("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        const got = yield* response(c)
        expect(got.status).toBe(400)
        expect(JSON.parse(got.body)).toMatchObject({ error: "BadRequest" })
        yield* yield* harness.beginShutdown
      }))), TEST_TIMEOUT)
})
