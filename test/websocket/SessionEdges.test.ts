// Every place Node calls into the WebSocket feature is guarded: a throw there, planted on purpose,
// fails only the one session (or upgrade) it served. The others, and this process, go on.
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, FiberSet, Layer } from "effect"
import type * as Http from "node:http"
import { PassThrough } from "node:stream"
import WebSocket, { WebSocketServer } from "ws"
import * as FiberRegistry from "../../src/lifecycle/FiberRegistry.js"
import * as NodeEdge from "../../src/lifecycle/NodeEdge.js"
import * as Hub from "../../src/websocket/Hub.js"
import { type Ending, type Peers, run } from "../../src/websocket/Session.js"
import * as WebSocketConfig from "../../src/websocket/WebSocketConfig.js"
import * as WebSocketFeature from "../../src/websocket/WebSocketFeature.js"
import { wsServed } from "./wsServed.js"
import { captureLogs, type CapturedLogs } from "../support/captureLogs.js"
import { leakCheck } from "../support/LeakCheck.js"
import { startServing } from "../support/publicServer.js"
import { waitFor } from "../support/spawnService.js"
import * as TestConfig from "../support/testConfig.js"
import { type Client, connect } from "./wsClients.js"
import { frame, Opcode, rawSocket } from "./wsFrames.js"

/** A real edge whose guard throws once, inside the guarded callback, for each place armed. */
const plantedEdge = Effect.map(NodeEdge.make, (edge) => {
  const armed = new Set<string>()
  const planted: NodeEdge.Edge = {
    clientError: edge.clientError,
    guard: (where, callback, onThrow) =>
      edge.guard(where, (...args) => {
        if (armed.delete(where)) throw new Error(`planted throw in ${where}`)
        callback(...args)
      }, onThrow)
  }
  return { edge: planted, arm: (where: string) => void armed.add(where) }
})

const promise = <A>(make: () => Promise<A>) => Effect.promise(make)

const echoes = (client: Client, data: string) =>
  promise(async () => {
    client.ws.send(JSON.stringify({ type: "echo", data }))
    return client.next(3_000)
  })

const closedWith = (client: Client) => promise(() => waitFor(client.closed, 5_000, "close"))

/** The one warn line the guard wrote for `where`, with the planted cause. */
const plantedWarn = (logs: CapturedLogs, where: string) =>
  logs.waitForLine((line) => line.level === "warn" && line.kind === where, 5_000).pipe(
    Effect.tap((line) => expect(String(line.cause)).toContain(`planted throw in ${where}`)),
    Effect.tap(() => expect(logs.lines.filter((line) => line.kind === where)).toHaveLength(1))
  )

const sessionClosed = (logs: CapturedLogs, code: number) =>
  logs.waitForLine((line) => line.message === "ws session closed" && line.closeCode === code, 5_000)

const withHub = (config: TestConfig.Env = {}) =>
  Effect.gen(function*() {
    const { arm, edge } = yield* plantedEdge
    const { port } = yield* startServing({ features: WebSocketFeature.layerWith(Hub.layerWith(edge)), api: wsServed, config })
    return { port, arm }
  })

describe("WebSocket entry points from Node", () => {
  it.live("ws `message`: a throw closes that session 1011; another session still echoes", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const { arm, port } = yield* withHub()
      const [victim, other] = yield* promise(() => Promise.all([connect(port), connect(port)]))
      arm("ws message")
      victim!.ws.send(JSON.stringify({ type: "echo", data: 1 }))
      expect((yield* closedWith(victim!)).code).toBe(1011)
      yield* plantedWarn(logs, "ws message")
      yield* sessionClosed(logs, 1011)
      expect(yield* echoes(other!, "alive")).toEqual({ type: "echo", data: "alive" })
    }).pipe(Effect.provide(logs.layer)))
  }, 15_000)

  it.live("ws `pong`: a throw closes that session 1011; another session still echoes", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      // No heartbeat round within the test: the victim sends the one pong itself (a pong need not
      // answer a ping, RFC 6455 5.5.3), so the armed throw lands in its pong callback and nowhere
      // else. Waiting for the hub's pings instead raced its rounds: one round pings the members it
      // has, then waits WS_PONG_TIMEOUT_MS before the next, and a victim registered just after a
      // round began was not pinged again within the test.
      const { arm, port } = yield* withHub({ WS_PING_INTERVAL_MS: "60000", WS_PONG_TIMEOUT_MS: "60000" })
      const [victim, other] = yield* promise(() => Promise.all([connect(port), connect(port)]))
      arm("ws pong")
      victim!.ws.pong()
      expect((yield* closedWith(victim!)).code).toBe(1011)
      yield* plantedWarn(logs, "ws pong")
      yield* sessionClosed(logs, 1011)
      expect(yield* echoes(other!, "alive")).toEqual({ type: "echo", data: "alive" })
    }).pipe(Effect.provide(logs.layer)))
  }, 15_000)

  it.live("ws `error`: a throw ends that session with the code ws already sent (1007); another still echoes", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const { arm, port } = yield* withHub()
      const [victim, other] = yield* promise(() => Promise.all([connect(port), connect(port)]))
      arm("ws error")
      rawSocket(victim!.ws).write(frame(Opcode.Text, Buffer.from([0xff])))
      expect((yield* closedWith(victim!)).code).toBe(1007)
      yield* plantedWarn(logs, "ws error")
      yield* sessionClosed(logs, 1007)
      expect(yield* echoes(other!, "alive")).toEqual({ type: "echo", data: "alive" })
    }).pipe(Effect.provide(logs.layer)))
  }, 15_000)

  it.live("ws `close`: a throw still ends and unregisters that session; another still echoes", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const { arm, port } = yield* withHub()
      const [victim, other] = yield* promise(() => Promise.all([connect(port), connect(port)]))
      arm("ws close")
      victim!.ws.close(4000, "bye")
      yield* plantedWarn(logs, "ws close")
      yield* sessionClosed(logs, 4000)
      expect(yield* echoes(other!, "alive")).toEqual({ type: "echo", data: "alive" })
    }).pipe(Effect.provide(logs.layer)))
  }, 15_000)

  it.live("the handleUpgrade callback: a throw cuts that one connection; another session still echoes", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const { arm, port } = yield* withHub()
      const other = yield* promise(() => connect(port))
      arm("ws upgraded")
      const victim = new WebSocket(`ws://127.0.0.1:${port}/ws`)
      victim.on("error", () => undefined)
      const code = yield* promise(() => waitFor(new Promise<number>((resolve) => victim.once("close", resolve)), 3_000, "close"))
      expect(code).toBe(1006)
      yield* plantedWarn(logs, "ws upgraded")
      expect(yield* echoes(other, "alive")).toEqual({ type: "echo", data: "alive" })
    }).pipe(Effect.provide(logs.layer)))
  }, 15_000)
})

describe("Hub.handle (called from the server's upgrade listener) never throws", () => {
  const hubLayer = Layer.provide(
    Hub.layer,
    Layer.merge(TestConfig.withEnv(WebSocketConfig.layer), FiberRegistry.layer)
  )

  it.scoped("a request-target that is not a URL is not ours: false, no throw", () =>
    Effect.gen(function*() {
      const hub = yield* Hub.Hub
      const socket = new PassThrough()
      for (const url of ["http://[/ws", "//[", "http://[::1/ws"]) {
        expect(hub.upgrades.handle({ url } as Http.IncomingMessage, socket, Buffer.alloc(0))).toBe(false)
      }
      expect(socket.destroyed).toBe(false)
    }).pipe(Effect.provide(hubLayer)))

  it.scoped("a throw inside ws's handleUpgrade (a request it cannot read) destroys only that socket, logged once at warn", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const hub = yield* Hub.Hub
      const socket = new PassThrough()
      // No headers at all: ws's handleUpgrade throws a TypeError reading them.
      expect(hub.upgrades.handle({ url: "/ws", method: "GET" } as Http.IncomingMessage, socket, Buffer.alloc(0))).toBe(true)
      expect(socket.destroyed).toBe(true)
      expect(logs.lines.filter((line) => line.level === "warn" && line.kind === "ws upgrade")).toHaveLength(1)
    }).pipe(Effect.provide(hubLayer), Effect.provide(logs.layer))
  })
})

/** One Session.run over a real socket pair, with the given Peers; no hub. */
const soloSession = (peers: Peers) =>
  Effect.gen(function*() {
    const edge = yield* NodeEdge.make
    const registry = yield* FiberRegistry.make
    const config = { wsPingIntervalMs: 60_000, wsPongTimeoutMs: 60_000, wsSendQueue: 16 }
    const wss = yield* Effect.acquireRelease(
      Effect.async<WebSocketServer>((resume) => {
        const server: WebSocketServer = new WebSocketServer({ host: "127.0.0.1", port: 0 }, () => resume(Effect.succeed(server)))
      }),
      (server) => Effect.async<void>((resume) => server.close(() => resume(Effect.void)))
    )
    const runSession = yield* FiberSet.makeRuntime<never>()
    const ended = yield* Deferred.make<Ending>()
    const serverSide = yield* Deferred.make<WebSocket>()
    wss.on("connection", (ws) => {
      Deferred.unsafeDone(serverSide, Exit.succeed(ws))
      runSession(Effect.flatMap(run("solo", ws, peers, config, registry, edge), (ending) => Deferred.succeed(ended, ending)))
    })
    const { port } = wss.address() as { port: number }
    const client = yield* promise(() => connect(port))
    return { client, ended, serverSide: yield* Deferred.await(serverSide) }
  })

const quietPeers: Peers = { register: () => undefined, unregister: () => undefined, broadcast: () => Effect.succeed(0) }

describe("a session over a real socket, alone", () => {
  it.live("a Peers whose broadcast throws: that session closes 1011, logged once at warn with the cause", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const { client, ended } = yield* soloSession({
        ...quietPeers,
        broadcast: () => {
          throw new Error("planted throw in broadcast")
        }
      })
      expect(yield* echoes(client, "fine")).toEqual({ type: "echo", data: "fine" })
      client.ws.send(JSON.stringify({ type: "broadcast", data: 1 }))
      expect((yield* closedWith(client)).code).toBe(1011)
      expect(yield* Deferred.await(ended)).toMatchObject({ code: 1011, byPeer: false })
      const warns = logs.lines.filter((line) => line.level === "warn")
      expect(warns).toHaveLength(1)
      expect(String(warns[0]!.cause)).toContain("planted throw in broadcast")
    }).pipe(Effect.provide(logs.layer)))
  }, 15_000)

  it.live("an error ws emits after the session ended (data left in a cut socket) is not an uncaught exception", () =>
    leakCheck(Effect.gen(function*() {
      const { client, ended, serverSide } = yield* soloSession(quietPeers)
      client.ws.close(1000)
      expect(yield* Deferred.await(ended)).toMatchObject({ code: 1000, byPeer: true })
      // Unheard, EventEmitter throws an `error` event at whoever emitted it: here, ws's socket callbacks.
      expect(() => serverSide.emit("error", new Error("late frame error"))).not.toThrow()
    }).pipe(Effect.provide(captureLogs().layer))), 15_000)
})
