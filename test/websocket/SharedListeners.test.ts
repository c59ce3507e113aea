// Sessions on one edge share the four listeners they hand to ws (issue 21: per-session guards were a
// dozen closures in every idle session). Shared, each listener must still find its own session
// through the socket it is called on: a frame is answered on its own socket only, one session's end
// leaves the other untouched, and an ended session's socket no longer reaches any session.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as FiberRegistry from "../../src/lifecycle/FiberRegistry.js"
import * as NodeEdge from "../../src/lifecycle/NodeEdge.js"
import * as Session from "../../src/websocket/Session.js"
import { captureLogs } from "../support/captureLogs.js"
import { FakeWebSocket } from "../support/FakeWebSocket.js"
import { leakCheck } from "../support/LeakCheck.js"

const peers: Session.Peers = { register: () => undefined, unregister: () => undefined, broadcast: () => Effect.succeed(0) }
const config = { wsPingIntervalMs: 60_000, wsPongTimeoutMs: 60_000, wsSendQueue: 4 }
const events = ["message", "close", "error", "pong"] as const

/** The peer's close frame arrived: ws reports the socket closed, then emits `close`. */
const peerCloses = (socket: FakeWebSocket, code: number) => {
  socket.readyState = socket.CLOSED
  socket.emit("close", code, Buffer.alloc(0))
}

const echo = (socket: FakeWebSocket, data: string) =>
  socket.emit("message", Buffer.from(JSON.stringify({ type: "echo", data })), false)

describe("Session listeners, shared by the sessions of one edge", { timeout: 10_000 }, () => {
  it.live("each frame is answered on its own socket; one session's end leaves the other serving", () =>
    leakCheck(Effect.gen(function*() {
      const registry = yield* FiberRegistry.make
      const edge = yield* NodeEdge.make
      const [a, b] = [new FakeWebSocket(), new FakeWebSocket()]
      const start = (socket: FakeWebSocket, id: string) =>
        Effect.fork(Session.run(id, socket.ws, peers, config, registry, edge))
      const sessionA = yield* start(a, "a")
      const sessionB = yield* start(b, "b")
      yield* Effect.yieldNow()
      for (const event of events) {
        expect(a.listeners(event)).toHaveLength(1)
        expect(a.listeners(event)[0]).toBe(b.listeners(event)[0])
      }

      echo(a, "to a")
      echo(b, "to b")
      expect(a.sent).toEqual([{ type: "echo", data: "to a" }])
      expect(b.sent).toEqual([{ type: "echo", data: "to b" }])

      peerCloses(a, 4000)
      expect(yield* Fiber.join(sessionA)).toMatchObject({ code: 4000, byPeer: true })
      // Its socket reaches no session any more: only the late-error sink is left on it.
      for (const event of ["message", "close", "pong"] as const) expect(a.listeners(event)).toHaveLength(0)
      expect(() => a.emit("error", new Error("late"))).not.toThrow()

      echo(b, "still b")
      expect(b.sent).toEqual([{ type: "echo", data: "to b" }, { type: "echo", data: "still b" }])
      expect(a.sent).toHaveLength(1)
      peerCloses(b, 1000)
      expect(yield* Fiber.join(sessionB)).toMatchObject({ code: 1000, byPeer: true })
    }).pipe(Effect.provide(captureLogs().layer))))
})
