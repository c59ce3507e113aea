// Every callback Node calls into the draining server goes through the edge guard. Each case plants
// a throw at one entry point (a faulty NodeEdge) and proves that only the one request or socket it
// was serving pays, the throw is logged once at warn with its cause, and the server still serves
// other clients and drains cleanly. A throw in the route that took an upgrade is that request's
// defect: its socket is closed, the defect logged with its cause, and the next client served.
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import { leakCheck } from "../support/LeakCheck.js"
import type { RawConnection } from "../support/RawConnection.js"
import { type EdgeHarness, readAll, stillServes, withEdgeServer, within } from "./edgeHarness.js"

const TEST_TIMEOUT = 20_000

const response = (connection: RawConnection) => Effect.promise(() => connection.nextResponse())

/** The victim's socket is closed without an answer. */
const cutOff = (connection: RawConnection, write: string) =>
  Effect.gen(function*() {
    const received = yield* Effect.fork(readAll(connection, 6_000))
    connection.write(write)
    return yield* received
  })

const internalError = { error: "InternalServerError", message: "internal error" }

interface Case {
  readonly where: string
  readonly options?: { readonly requestTimeoutMs?: number }
  /** Plays the client that hits the planted throw, and checks what it got. */
  readonly victim: (harness: EdgeHarness) => Effect.Effect<void, Error>
}

const beforeShutdown: ReadonlyArray<Case> = [
  {
    where: "connection",
    victim: ({ connect }) => Effect.flatMap(connect, (c) => cutOff(c, "GET /ok HTTP/1.1\r\nHost: t\r\n\r\n")).pipe(Effect.map((got) => expect(got).toBe("")))
  },
  {
    where: "request",
    victim: ({ connect, probes }) =>
      Effect.gen(function*() {
        const c = yield* connect
        c.request("/ok")
        const got = yield* response(c)
        expect(got.status).toBe(500)
        expect(got.headers["connection"]).toBe("close")
        expect(JSON.parse(got.body)).toEqual(internalError)
        expect(probes.seen).toEqual([])
      })
  },
  {
    where: "checkContinue",
    victim: ({ connect }) =>
      Effect.gen(function*() {
        const c = yield* connect
        c.request("/body", "POST", { "content-length": "2", "expect": "100-continue" })
        const got = yield* response(c)
        expect(got.status).toBe(500)
        expect(JSON.parse(got.body)).toEqual(internalError)
      })
  },
  {
    where: "upgrade",
    victim: ({ connect }) =>
      Effect.flatMap(connect, (c) => cutOff(c, "GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n")).pipe(
        Effect.map((got) => expect(got).toBe(""))
      )
  },
  {
    where: "connect",
    victim: ({ connect }) =>
      Effect.flatMap(connect, (c) => cutOff(c, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")).pipe(
        Effect.map((got) => expect(got).toBe(""))
      )
  },
  {
    where: "clientError",
    victim: ({ connect }) => Effect.flatMap(connect, (c) => cutOff(c, "NOT HTTP AT ALL\r\n\r\n")).pipe(Effect.map((got) => expect(got).toBe("")))
  },
  {
    where: "request timeout timer",
    options: { requestTimeoutMs: 1_000 },
    victim: ({ connect }) =>
      Effect.flatMap(connect, (c) => cutOff(c, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")).pipe(Effect.map((got) => expect(got).toBe("")))
  },
  {
    where: "socket destroySoon",
    victim: ({ connect }) =>
      Effect.gen(function*() {
        const c = yield* connect
        c.request("/ok", "GET", { connection: "close" })
        expect((yield* response(c)).status).toBe(200)
        yield* Effect.promise(() => c.closed).pipe(within(5_000, "the socket to close"))
      })
  },
  // Callbacks after the answer: the client is served; the server's bookkeeping must survive.
  // (No "response end callback": RequestHandler ends a response without one.)
  ...["socket close", "response close"].map((where): Case => ({
    where,
    victim: ({ connect, server }) =>
      Effect.gen(function*() {
        const c = yield* connect
        c.request("/ok")
        expect((yield* response(c)).status).toBe(200)
        c.destroy()
        yield* Effect.sleep("2 millis").pipe(Effect.repeat({ until: () => server.stats().sockets === 0 }), within(5_000, "the socket to be forgotten"))
      })
  }))
]

const warned = (harness: EdgeHarness, where: string) =>
  Effect.gen(function*() {
    const line = yield* harness.waitForLine((line) => line.message === `${where} threw; failing only what it was serving`)
    expect(line).toMatchObject({ level: "warn", kind: where })
    expect(String(line.cause)).toContain(`planted throw at ${where}`)
    expect(harness.lines.filter((l) => l.message === line.message)).toHaveLength(1)
  })

const drainsCleanly = (harness: EdgeHarness) =>
  Effect.gen(function*() {
    expect(yield* yield* harness.beginShutdown).toBeLessThan(3_000) // not the 5 s budget
    expect(yield* harness.shutdown.forced).toEqual([])
    expect(harness.registry.size()).toBe(0)
  })

describe("DrainingServer: a throw in any Node callback fails one request or socket", () => {
  for (const { options, victim, where } of beforeShutdown) {
    it.live(`${where}: only its client pays; the server serves the next one`, () =>
      leakCheck(withEdgeServer({ faultAt: where, ...options }, (harness) =>
        Effect.gen(function*() {
          yield* victim(harness)
          expect(harness.faultFired()).toBe(true)
          yield* warned(harness, where)
          expect(yield* stillServes(harness)).toBe(200)
          yield* drainsCleanly(harness)
        }))), TEST_TIMEOUT)
  }

  it.live("a route that throws after taking the upgrade: that socket is closed, the server serves the next client", () =>
    leakCheck(withEdgeServer({
      takeUpgrade: () => {
        throw new Error("the hub has a bug")
      }
    }, (harness) =>
      Effect.gen(function*() {
        const c = yield* harness.connect
        expect(yield* cutOff(c, "GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")).toBe("")
        // A defect of that request (the route runs in its fiber), logged with its cause.
        const line = yield* harness.waitForLine((line) => line.message === "request failed with a defect")
        expect(String(line.cause)).toContain("the hub has a bug")
        expect(yield* stillServes(harness)).toBe(200)
        yield* drainsCleanly(harness)
      }))), TEST_TIMEOUT)

  // Callbacks the drain itself hands to Node.
  it.live("poll phase: the drain goes on", () =>
    leakCheck(withEdgeServer({ faultAt: "poll phase" }, (harness) =>
      Effect.gen(function*() {
        yield* drainsCleanly(harness)
        expect(harness.faultFired()).toBe(true)
        yield* warned(harness, "poll phase")
      }))), TEST_TIMEOUT)

  it.live("fresh socket timer: the silent socket is closed anyway; the drain ends", () =>
    leakCheck(withEdgeServer({ faultAt: "fresh socket timer" }, (harness) =>
      Effect.gen(function*() {
        const silent = yield* harness.connect
        yield* Effect.sleep("2 millis").pipe(Effect.repeat({ until: () => harness.server.stats().sockets === 1 }), within(5_000, "the socket"))
        yield* drainsCleanly(harness)
        expect(silent.isClosed).toBe(true)
        yield* warned(harness, "fresh socket timer")
      }))), TEST_TIMEOUT)

  it.live("slow headers timer: the half-sent head is closed anyway; the drain ends", () =>
    leakCheck(withEdgeServer({ faultAt: "slow headers timer" }, (harness) =>
      Effect.gen(function*() {
        const slow = yield* harness.connect
        slow.write("GET /ok HTTP/1.1\r\nHost: t")
        yield* Effect.sleep("50 millis") // no server event marks a partial head arriving
        yield* drainsCleanly(harness)
        expect(slow.isClosed).toBe(true)
        yield* warned(harness, "slow headers timer")
      }))), TEST_TIMEOUT)

  it.live("the request fiber a planted throw left is not leaked: /hold interrupted by its timeout timer's fallback", () =>
    leakCheck(withEdgeServer({ faultAt: "request timeout timer", requestTimeoutMs: 1_000 }, (harness) =>
      Effect.gen(function*() {
        const c = yield* harness.connect
        c.request("/hold")
        yield* Deferred.await(harness.probes.started).pipe(within(5_000, "the handler to start"))
        yield* Effect.promise(() => c.closed).pipe(within(5_000, "the socket to close"))
        yield* Effect.sleep("2 millis").pipe(Effect.repeat({ until: () => harness.server.stats().requestFibers === 0 }), within(5_000, "the fiber to end"))
        yield* drainsCleanly(harness)
      }))), TEST_TIMEOUT)
})
