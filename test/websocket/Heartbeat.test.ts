// The session's heartbeat on TestClock: a ping every WS_PING_INTERVAL_MS, a missing pong ends the
// session with 1011 exactly WS_PONG_TIMEOUT_MS after its ping, never before; a pong in time keeps
// it. The socket is an in-memory stand-in for ws's WebSocket (only what Session touches), so every
// wait is the heartbeat's own, not the network's or the machine's (the process test of the same
// contract, in websocket.process.test.ts, uses real time and so only loose bounds).
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option, TestClock } from "effect"
import * as FiberRegistry from "../../src/lifecycle/FiberRegistry.js"
import * as NodeEdge from "../../src/lifecycle/NodeEdge.js"
import * as Session from "../../src/websocket/Session.js"
import { captureLogs } from "../support/captureLogs.js"
import { FakeWebSocket } from "../support/FakeWebSocket.js"
import { leakCheck } from "../support/LeakCheck.js"

const peers: Session.Peers = { register: () => undefined, unregister: () => undefined, broadcast: () => Effect.succeed(0) }
const config = { wsPingIntervalMs: 1_000, wsPongTimeoutMs: 500, wsSendQueue: 4 }

/** Starts a session on a fake socket; waits (without moving the clock) until its heartbeat sleeps. */
const startSession = Effect.gen(function*() {
  const socket = new FakeWebSocket()
  const registry = yield* FiberRegistry.make
  const edge = yield* NodeEdge.make
  const session = yield* Effect.fork(Session.run("s1", socket.ws, peers, config, registry, edge))
  yield* untilSleeping
  return { socket, session }
})

/** Lets the forked fibers run until one of them waits on the clock. */
const untilSleeping = Effect.gen(function*() {
  for (let i = 0; i < 1_000 && (yield* TestClock.sleeps()).length === 0; i++) yield* Effect.yieldNow()
})

describe("Session heartbeat on TestClock", { timeout: 10_000 }, () => {
  it.effect("no pong: pinged at the interval, closed 1011 exactly the pong timeout after the ping", () =>
    leakCheck(Effect.gen(function*() {
      const { session, socket } = yield* startSession
      yield* TestClock.adjust(999)
      expect(socket.pings).toBe(0)
      yield* TestClock.adjust(1)
      expect(socket.pings).toBe(1)
      yield* untilSleeping
      yield* TestClock.adjust(499)
      expect(yield* Fiber.poll(session)).toEqual(Option.none())
      yield* TestClock.adjust(1)
      const ending = yield* Fiber.join(session)
      expect(ending).toEqual({ code: 1011, reason: "no pong within WS_PONG_TIMEOUT_MS", byPeer: false })
      expect(socket.closedWith).toBe(1011)
    })).pipe(Effect.provide(captureLogs().layer)))

  it.effect("a pong inside the timeout keeps the session through the next ping; the round without one ends it", () =>
    leakCheck(Effect.gen(function*() {
      const { session, socket } = yield* startSession
      yield* TestClock.adjust(1_000)
      expect(socket.pings).toBe(1)
      socket.emit("pong", Buffer.alloc(0))
      yield* untilSleeping
      yield* TestClock.adjust(500) // the first pong timeout passes: answered, nothing happens
      expect(yield* Fiber.poll(session)).toEqual(Option.none())
      yield* untilSleeping
      yield* TestClock.adjust(1_000)
      expect(socket.pings).toBe(2)
      expect(yield* Fiber.poll(session)).toEqual(Option.none())
      yield* untilSleeping
      yield* TestClock.adjust(500) // no pong this round
      expect(yield* Fiber.join(session)).toMatchObject({ code: 1011 })
      expect(socket.closedWith).toBe(1011)
    })).pipe(Effect.provide(captureLogs().layer)))
})
