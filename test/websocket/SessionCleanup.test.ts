// A session's cleanup is made of finalizers, so it runs however the session ends, and never waits
// on the peer when the session is interrupted: interrupted from outside, it still sends its close
// frame, cuts the socket, leaves the hub, takes its listeners off the socket and writes its one log
// line. The hub's goAway is bounded by its `within`, and the hub's release is bounded whatever the
// peer does: both with a peer that never answers the close handshake, on TestClock.
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Duration, Effect, Exit, Fiber, Layer, Scope, TestClock } from "effect"
import * as Http from "node:http"
import type { Duplex } from "node:stream"
import WebSocket, { WebSocketServer } from "ws"
import * as FiberRegistry from "../../src/lifecycle/FiberRegistry.js"
import * as NodeEdge from "../../src/lifecycle/NodeEdge.js"
import * as Hub from "../../src/websocket/Hub.js"
import * as WebSocketConfig from "../../src/websocket/WebSocketConfig.js"
import { type Peers, run } from "../../src/websocket/Session.js"
import { captureLogs } from "../support/captureLogs.js"
import { leakCheck } from "../support/LeakCheck.js"
import * as TestConfig from "../support/testConfig.js"
import { Opcode, RawWebSocket } from "../support/RawWebSocket.js"
import { waitFor } from "../support/spawnService.js"
import { connect } from "./wsClients.js"

const promise = <A>(make: () => Promise<A>) => Effect.promise(make)

const listenerCounts = (ws: WebSocket) =>
  Object.fromEntries(["message", "close", "error", "pong"].map((event) => [event, ws.listenerCount(event)]))

/** A ws server on an ephemeral port; resolves the server side of its first connection. */
const wsServer = Effect.gen(function*() {
  const wss = yield* Effect.acquireRelease(
    Effect.async<WebSocketServer>((resume) => {
      const server: WebSocketServer = new WebSocketServer({ host: "127.0.0.1", port: 0 }, () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.async<void>((resume) => server.close(() => resume(Effect.void)))
  )
  const serverSide = yield* Deferred.make<WebSocket>()
  wss.once("connection", (ws) => Deferred.unsafeDone(serverSide, Exit.succeed(ws)))
  return { port: (wss.address() as { port: number }).port, serverSide }
})

describe("a session interrupted from outside", () => {
  it.live("sends its close frame, leaves the hub, takes its listeners off, logs one line", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const edge = yield* NodeEdge.make
      const registry = yield* FiberRegistry.make
      const config = { wsPingIntervalMs: 60_000, wsPongTimeoutMs: 60_000, wsSendQueue: 16 }
      const { port, serverSide } = yield* wsServer
      const client = yield* promise(() => connect(port))
      const ws = yield* Deferred.await(serverSide)
      const before = listenerCounts(ws)
      const live = new Set<string>()
      const registered = yield* Deferred.make<void>()
      const peers: Peers = {
        register: (id) => {
          live.add(id)
          Deferred.unsafeDone(registered, Exit.void)
        },
        unregister: (id) => void live.delete(id),
        broadcast: () => Effect.succeed(0)
      }
      const session = yield* Effect.fork(run("s1", ws, peers, config, registry, edge))
      yield* Deferred.await(registered) // started: listening and registered
      expect(listenerCounts(ws).message).toBe(before.message! + 1)
      // It answers while it runs.
      client.ws.send(JSON.stringify({ type: "echo", data: "before" }))
      expect(yield* promise(() => client.next(5_000))).toEqual({ type: "echo", data: "before" })

      yield* Fiber.interrupt(session)

      expect(live.size).toBe(0)
      // `error` keeps one listener that swallows what ws may still emit on a cut socket.
      expect(listenerCounts(ws)).toEqual({ ...before, error: before.error! + 1 })
      const closed = yield* promise(() => waitFor(client.closed, 5_000, "the client's close"))
      // The close frame when it went out before the cut; a cut socket (1006) otherwise.
      expect([1001, 1006]).toContain(closed.code)
      const lines = logs.lines.filter((line) => line.message === "ws session closed")
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatchObject({ sessionId: "s1", closeCode: 1001 })
    }).pipe(Effect.provide(logs.layer)))
  }, 15_000)
})

/** The hub behind a node:http server's `upgrade` event, in a scope the test closes itself. */
const hubOnServer = Effect.gen(function*() {
  const scope = yield* Scope.make()
  yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
  const hubLayer = Layer.provide(Hub.layer, Layer.merge(TestConfig.withEnv(WebSocketConfig.layer), FiberRegistry.layer))
  const { size, upgrades } = Context.get(yield* Layer.buildWithScope(hubLayer, scope), Hub.Hub)
  const server = yield* Effect.acquireRelease(
    Effect.async<Http.Server>((resume) => {
      const server = Http.createServer((_, response) => response.writeHead(404).end())
      server.on("upgrade", (request: Http.IncomingMessage, socket: Duplex, head: Buffer) => {
        if (!upgrades.handle(request, socket, head)) socket.destroy()
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
  )
  return { port: (server.address() as { port: number }).port, scope, upgrades, size }
})

/** A peer that completed the upgrade and will never answer a close frame (nor anything else). */
const deafPeer = (port: number, size: Effect.Effect<number>) =>
  Effect.gen(function*() {
    const peer = yield* promise(() => RawWebSocket.open(port))
    yield* Effect.addFinalizer(() => Effect.sync(() => peer.destroy()))
    // Started once the hub lists it (a condition, polled between turns of the event loop).
    while ((yield* size) === 0) yield* promise(() => new Promise((resolve) => setImmediate(resolve)))
    return peer
  })

const gotClose = (peer: RawWebSocket) =>
  promise(() => peer.until((frames) => frames.some((frame) => frame.opcode === Opcode.Close), 5_000))

const cut = (peer: RawWebSocket) => promise(() => waitFor(peer.closed, 5_000, "the peer's socket cut"))

describe("the hub with a peer that never answers the close handshake (TestClock)", () => {
  it.scoped("goAway(within): told to go away (1001), then cut once `within` has passed", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const { port, size, upgrades } = yield* hubOnServer
      const peer = yield* deafPeer(port, size)
      const goingAway = yield* Effect.fork(upgrades.goAway(Duration.millis(500)))
      expect(yield* gotClose(peer)).toBe(true)
      expect(peer.closeCode).toBe(1001)
      // The peer does not answer; only the clock can end the wait.
      yield* TestClock.adjust(Duration.millis(500))
      yield* Fiber.join(goingAway)
      yield* logs.waitForLine((line) => line.message === "ws peers did not answer going-away; cutting them")
      yield* cut(peer)
      yield* logs.waitForLine((line) => line.message === "ws session closed" && line.closeCode === 1001)
      while ((yield* size) > 0) yield* promise(() => new Promise((resolve) => setImmediate(resolve)))
    }).pipe(Effect.provide(logs.layer))
  }, 15_000)

  it.scoped("the hub's release, with no goAway and a clock that never moves: close frame, cut, done", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const { port, scope, size } = yield* hubOnServer
      const peer = yield* deafPeer(port, size)
      // Would hang (the test times out) if the release waited on the peer's answer.
      yield* Scope.close(scope, Exit.void)
      expect(yield* gotClose(peer)).toBe(true)
      expect(peer.closeCode).toBe(1001)
      yield* cut(peer)
      const lines = logs.lines.filter((line) => line.message === "ws session closed")
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatchObject({ closeCode: 1001, reason: "session interrupted" })
    }).pipe(Effect.provide(logs.layer))
  }, 15_000)

  it.scoped("the hub's release while a session waits in its close handshake: cut at once, logged with the code it sent", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const { port, scope, size, upgrades } = yield* hubOnServer
      const peer = yield* deafPeer(port, size)
      yield* Effect.fork(upgrades.goAway(Duration.seconds(30)))
      expect(yield* gotClose(peer)).toBe(true) // the handshake has begun; the peer never answers
      yield* Scope.close(scope, Exit.void)
      yield* cut(peer)
      const lines = logs.lines.filter((line) => line.message === "ws session closed")
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatchObject({ closeCode: 1001, reason: "server shutting down (interrupted in the close handshake)" })
    }).pipe(Effect.provide(logs.layer))
  }, 15_000)
})
