// The draining server as the platform's HttpServer: a plain HttpRouter served the standard way
// (`HttpServer.serve(router)` over `DrainingServer.layer`) answers, drains (a late request on an
// open keep-alive socket gets 503 + Connection: close), and reaches WebSocket handshakes through
// the router (a route takes the socket with Upgrade.take; an untaken one gets the app's 404).
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Option, Schema, Scope } from "effect"
import * as DrainingServer from "../../src/http/server/DrainingServer.js"
import * as Upgrade from "../../src/http/server/Upgrade.js"
import * as FiberRegistry from "../../src/lifecycle/FiberRegistry.js"
import * as Shutdown from "../../src/lifecycle/Shutdown.js"
import { ShutdownReason } from "../../src/lifecycle/ShutdownReason.js"
import { nextResponse, socketClosed, within } from "../support/inProcessServer.js"
import { leakCheck } from "../support/LeakCheck.js"
import { RawConnection } from "../support/RawConnection.js"

const TEST_TIMEOUT = 30_000
const BUDGET_MS = 10_000

const until = (condition: () => boolean, what: string) =>
  Effect.sleep("2 millis").pipe(Effect.repeat({ until: condition }), within(5_000, what))

/** Until the shutdown runs phase `name`. */
const untilPhase = (shutdown: { readonly runningPhases: Effect.Effect<ReadonlyArray<string>> }, name: string) =>
  Effect.sleep("2 millis").pipe(
    Effect.zipRight(shutdown.runningPhases),
    Effect.repeat({ until: (phases) => phases.includes(name) }),
    within(5_000, `the ${name} phase`)
  )

const serveRouter = Effect.gen(function*() {
  const started = yield* Deferred.make<void>()
  const release = yield* Deferred.make<void>()
  const router = HttpRouter.empty.pipe(
    HttpRouter.get("/ok", HttpServerResponse.text("ok")),
    HttpRouter.get("/hold", Deferred.succeed(started, undefined).pipe(Effect.zipRight(Deferred.await(release)), Effect.as(HttpServerResponse.text("held")))),
    // A route that takes the upgrade answers on the socket itself, as `ws` would.
    HttpRouter.get("/ws", Effect.gen(function*() {
      const upgrade = Upgrade.take(yield* HttpServerRequest.HttpServerRequest)
      if (Option.isNone(upgrade)) return HttpServerResponse.text("not an upgrade", { status: 426 })
      const { socket } = upgrade.value
      socket.write("HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n")
      socket.resume()
      socket.once("end", () => socket.end())
      return HttpServerResponse.empty()
    }))
  )
  const shutdown = yield* Shutdown.make(BUDGET_MS)
  const registry = yield* FiberRegistry.make
  const scope = yield* Scope.make()
  const live = HttpServer.serve(router).pipe(
    Layer.provideMerge(DrainingServer.layer({ name: "public", host: "127.0.0.1", port: 0, drainDelayMs: 0, requestTimeoutMs: 30_000 }))
  )
  const context = yield* Layer.buildWithScope(live, scope).pipe(
    Effect.provideService(Shutdown.Shutdown, shutdown),
    Effect.provideService(FiberRegistry.FiberRegistry, registry)
  )
  const listener = Context.get(context, DrainingServer.Listener)
  const server = Context.get(context, HttpServer.HttpServer)
  const closing = Effect.forkDaemon(Effect.zipRight(shutdown.trigger(ShutdownReason.Signal({ signal: "SIGTERM" })), Scope.close(scope, Exit.void)))
  yield* Effect.addFinalizer(() => Deferred.succeed(release, undefined).pipe(Effect.zipRight(Scope.close(scope, Exit.void))))
  const connect = Effect.promise(() => RawConnection.open(listener.port))
  return { listener, server, shutdown, registry, started, release, closing, connect }
})

describe("DrainingServer as HttpServer.HttpServer", () => {
  it.live("HttpServer.serve(router) answers; its address is the bound port", () =>
    leakCheck(Effect.gen(function*() {
      const { closing, connect, listener, server } = yield* serveRouter
      expect(server.address).toEqual({ _tag: "TcpAddress", hostname: "127.0.0.1", port: listener.port })
      const c = yield* connect
      c.request("/ok")
      const got = yield* nextResponse(c)
      expect(got.status).toBe(200)
      expect(got.body).toBe("ok")
      expect(got.headers["x-trace-id"]).toMatch(/^[0-9a-f]{32}$/)
      c.request("/nope")
      expect((yield* nextResponse(c)).status).toBe(404)
      yield* Fiber.join(yield* closing).pipe(within(5_000, "the drain"))
      yield* socketClosed(c, 3_000)
    })), TEST_TIMEOUT)

  it.live("a late request on an open keep-alive socket during the drain -> 503 + Connection: close", () =>
    leakCheck(Effect.gen(function*() {
      const { closing, connect, listener, registry, release, shutdown, started } = yield* serveRouter
      const c = yield* connect
      c.request("/hold")
      yield* Deferred.await(started)
      const drain = yield* closing
      yield* untilPhase(shutdown, "drain")
      c.request("/ok")
      yield* until(() => listener.stats().inFlight === 2, "the late request to be queued")
      yield* Deferred.succeed(release, undefined)
      const held = yield* nextResponse(c)
      expect(held.status).toBe(200)
      expect(held.body).toBe("held")
      const late = yield* nextResponse(c)
      expect(late.status).toBe(503)
      expect(late.headers["connection"]).toBe("close")
      expect(JSON.parse(late.body)).toMatchObject({ error: "ShuttingDown" })
      yield* socketClosed(c, 3_000)
      yield* Fiber.join(drain).pipe(within(5_000, "the drain"))
      expect(yield* shutdown.forced).toEqual([])
      expect(registry.size()).toBe(0)
    })), TEST_TIMEOUT)

  it.live("a WebSocket handshake reaches its route, which takes the socket; the drain waits for it", () =>
    leakCheck(Effect.gen(function*() {
      const { closing, connect, listener, shutdown } = yield* serveRouter
      const c = yield* connect
      c.write("GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n")
      yield* Effect.promise(() => new Promise<void>((resolve) => c.socket.once("data", (chunk) => chunk.toString().startsWith("HTTP/1.1 101") && resolve())))
      expect(listener.stats().sockets).toBe(1)
      const drain = yield* closing
      yield* untilPhase(shutdown, "drain")
      expect(c.isClosed).toBe(false) // an upgraded socket is work, never swept as idle
      c.socket.end()
      yield* Fiber.join(drain).pipe(within(5_000, "the drain"))
      expect(yield* shutdown.forced).toEqual([])
    })), TEST_TIMEOUT)

  it.live("a WebSocket handshake no route takes -> the app's 404 on the socket", () =>
    leakCheck(Effect.gen(function*() {
      const { closing, connect } = yield* serveRouter
      const c = yield* connect
      c.write("GET /elsewhere HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n")
      const got = yield* nextResponse(c)
      expect(got.status).toBe(404)
      yield* socketClosed(c, 3_000)
      yield* Fiber.join(yield* closing).pipe(within(5_000, "the drain"))
    })), TEST_TIMEOUT)
})

class Things extends HttpApiGroup.make("things").add(HttpApiEndpoint.get("list", "/things").addSuccess(Schema.Array(Schema.Number))) {}
class ThingsApi extends HttpApi.make("things").add(Things) {}

describe("DrainingServer under HttpApiBuilder.serve", () => {
  it.live("an HttpApi served with HttpApiBuilder.serve() over DrainingServer.layer answers and drains", () =>
    leakCheck(Effect.gen(function*() {
      const shutdown = yield* Shutdown.make(BUDGET_MS)
      const registry = yield* FiberRegistry.make
      const scope = yield* Scope.make()
      const api = HttpApiBuilder.api(ThingsApi).pipe(
        Layer.provide(HttpApiBuilder.group(ThingsApi, "things", (handlers) => handlers.handle("list", () => Effect.succeed([1, 2]))))
      )
      const live = HttpApiBuilder.serve().pipe(
        Layer.provide(api),
        Layer.provideMerge(DrainingServer.layer({ name: "public", host: "127.0.0.1", port: 0, drainDelayMs: 0, requestTimeoutMs: 30_000 }))
      )
      const context = yield* Layer.buildWithScope(live, scope).pipe(
        Effect.provideService(Shutdown.Shutdown, shutdown),
        Effect.provideService(FiberRegistry.FiberRegistry, registry)
      )
      yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
      const c = yield* Effect.promise(() => RawConnection.open(Context.get(context, DrainingServer.Listener).port))
      c.request("/things")
      const got = yield* nextResponse(c)
      expect(got.status).toBe(200)
      expect(JSON.parse(got.body)).toEqual([1, 2])
      yield* shutdown.trigger(ShutdownReason.Signal({ signal: "SIGTERM" }))
      yield* Scope.close(scope, Exit.void).pipe(within(5_000, "the drain"))
      yield* socketClosed(c, 3_000)
      expect(yield* shutdown.forced).toEqual([])
    })), TEST_TIMEOUT)
})
