// A real draining server on 127.0.0.1:0 for the server-edge tests: a probe app that reads bodies
// the way the public API does (1 MiB cap) and serves GET /ws as a route that takes the upgrade
// (what it does with the socket is the test's to choose), and an optional faulty edge (a NodeEdge
// whose guard throws once, on purpose, at one named entry point).
import { HttpIncomingMessage, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Deferred, Duration, Effect, Exit, Fiber, Option, Scope } from "effect"
import type * as Http from "node:http"
import type { Duplex } from "node:stream"
import { MAX_BODY_BYTES } from "../../src/http/public/ErrorsMiddleware.js"
import type * as DrainingServer from "../../src/http/server/DrainingServer.js"
import * as Upgrade from "../../src/http/server/Upgrade.js"
import * as FiberRegistry from "../../src/lifecycle/FiberRegistry.js"
import * as NodeEdge from "../../src/lifecycle/NodeEdge.js"
import * as Shutdown from "../../src/lifecycle/Shutdown.js"
import { ShutdownReason } from "../../src/lifecycle/ShutdownReason.js"
import { captureLogs, type LogLine } from "../support/captureLogs.js"
import { within } from "../support/inProcessServer.js"
import { RawConnection } from "../support/RawConnection.js"
import { servedListener } from "../support/servedListener.js"

export { within }

/** An edge whose guard throws once, before the callback, the first time Node calls `where`. */
export const faultyEdge = (edge: NodeEdge.Edge, where: string): NodeEdge.Edge & { readonly fired: () => boolean } => {
  let fired = false
  return {
    ...edge,
    fired: () => fired,
    guard: (name, callback, onThrow) =>
      edge.guard(name, (...args) => {
        if (name === where && !fired) {
          fired = true
          throw new Error(`planted throw at ${name}`)
        }
        callback(...args)
      }, onThrow)
  }
}

export interface EdgeProbes {
  readonly started: Deferred.Deferred<void>
  readonly release: Deferred.Deferred<void>
  /** Requests the app saw, by url (a refusal decided in the server never reaches it). */
  readonly seen: Array<string>
}

/** What GET /ws does with the upgrade it took: the raw request and its socket, which it now owns. */
export type TakeUpgrade = (request: Http.IncomingMessage, socket: Duplex) => void

/** Answers 101 and holds the socket, as a session would: reads (and drops) what the peer sends,
 * and closes when it does. */
export const holdUpgrade: TakeUpgrade = (_, socket) => {
  socket.write("HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n")
  socket.resume()
  socket.once("end", () => socket.end())
}

const probeApp = (probes: EdgeProbes, takeUpgrade: TakeUpgrade) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    probes.seen.push(request.url)
    // Like every handler here: the router, the admin dispatch and the hub all parse the target.
    const path = new URL(request.url, "http://x").pathname
    switch (path) {
      case "/ok":
        return HttpServerResponse.unsafeJson({ ok: true })
      // GET /ws: a route that takes the upgrade the server offered and answers on the socket
      // itself (as the WebSocket feature's does); a throw in `takeUpgrade` is this request's defect.
      case "/ws": {
        const taken = Upgrade.take(request)
        if (request.method !== "GET" || Option.isNone(taken)) break
        yield* Effect.sync(() => takeUpgrade(taken.value.request, taken.value.socket))
        return HttpServerResponse.empty()
      }
      case "/hold":
        yield* Deferred.succeed(probes.started, undefined)
        yield* Deferred.await(probes.release)
        return HttpServerResponse.unsafeJson({ held: true })
      case "/body": {
        const text = yield* Effect.either(request.text)
        if (text._tag === "Right") return HttpServerResponse.unsafeJson({ bytes: Buffer.byteLength(text.right) })
        const tooLarge = text.left.cause instanceof Error && text.left.cause.message === "maxBytes exceeded"
        return HttpServerResponse.unsafeJson(
          tooLarge ? { error: "PayloadTooLarge", message: "too large" } : { error: "BadRequest", message: "unreadable" },
          { status: tooLarge ? 413 : 400 }
        )
      }
    }
    return HttpServerResponse.unsafeJson({ error: "NotFound", message: "no such route" }, { status: 404 })
  }).pipe(HttpIncomingMessage.withMaxBodySize(Option.some(MAX_BODY_BYTES)))

export interface EdgeOptions {
  readonly budgetMs?: number
  readonly requestTimeoutMs?: number
  /** Name of the entry point whose guard throws once. */
  readonly faultAt?: string
  /** What GET /ws does with the upgrade it took; default `holdUpgrade`. */
  readonly takeUpgrade?: TakeUpgrade
}

export interface EdgeHarness {
  readonly server: DrainingServer.Listener
  readonly port: number
  readonly shutdown: Shutdown.Shutdown["Type"]
  readonly registry: FiberRegistry.FiberRegistry["Type"]
  readonly probes: EdgeProbes
  readonly lines: ReadonlyArray<LogLine>
  readonly waitForLine: (predicate: (line: LogLine) => boolean, timeoutMs?: number) => Effect.Effect<LogLine, Error>
  /** True once the planted throw happened. */
  readonly faultFired: () => boolean
  readonly connect: Effect.Effect<RawConnection>
  /** SIGTERM, then closes the server's scope in a fiber of its own; the inner effect waits for it. */
  readonly beginShutdown: Effect.Effect<Effect.Effect<number, Error>>
}

export const withEdgeServer = <A, E>(
  options: EdgeOptions,
  body: (harness: EdgeHarness) => Effect.Effect<A, E, Scope.Scope>
): Effect.Effect<A, E | DrainingServer.ServeError, Scope.Scope> => {
  const logs = captureLogs()
  const budgetMs = options.budgetMs ?? 5_000
  return Effect.gen(function*() {
    const shutdown = yield* Shutdown.make(budgetMs)
    const registry = yield* FiberRegistry.make
    const probes: EdgeProbes = { started: yield* Deferred.make<void>(), release: yield* Deferred.make<void>(), seen: [] }
    const edge = faultyEdge(yield* NodeEdge.make, options.faultAt ?? "")
    const scope = yield* Scope.make()
    const close = Effect.map(Effect.forkDaemon(Effect.timed(Scope.close(scope, Exit.void))), (closing) =>
      Fiber.join(closing).pipe(Effect.map(([took]) => Duration.toMillis(took)), within(budgetMs + 5_000, "the server scope to close")))
    yield* Effect.addFinalizer(() => Deferred.succeed(probes.release, undefined).pipe(Effect.zipRight(Effect.flatten(close)), Effect.ignore))
    const server = yield* Scope.extend(
      servedListener({
        name: "public",
        host: "127.0.0.1",
        port: 0,
        drainDelayMs: 0,
        requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
        edge
      }, probeApp(probes, options.takeUpgrade ?? holdUpgrade)),
      scope
    ).pipe(Effect.provideService(Shutdown.Shutdown, shutdown), Effect.provideService(FiberRegistry.FiberRegistry, registry))
    return yield* body({
      server,
      port: server.port,
      shutdown,
      registry,
      probes,
      lines: logs.lines,
      waitForLine: logs.waitForLine,
      faultFired: edge.fired,
      connect: Effect.promise(() => RawConnection.open(server.port)),
      beginShutdown: Effect.zipRight(shutdown.trigger(ShutdownReason.Signal({ signal: "SIGTERM" })), close)
    })
  }).pipe(Effect.provide(logs.layer))
}

/** Everything the socket receives until it closes (or `timeoutMs`), as latin1 text. */
export const readAll = (connection: RawConnection, timeoutMs = 5_000): Effect.Effect<string, Error> =>
  Effect.async<string, Error>((resume) => {
    let text = ""
    const onData = (chunk: Buffer) => {
      text += chunk.toString("latin1")
    }
    connection.socket.on("data", onData)
    const timer = setTimeout(() => resume(Effect.fail(new Error(`socket still open after ${timeoutMs} ms; got ${JSON.stringify(text.slice(0, 200))}`))), timeoutMs)
    void connection.closed.then(() => {
      clearTimeout(timer)
      resume(Effect.succeed(text))
    })
    return Effect.sync(() => {
      clearTimeout(timer)
      connection.socket.off("data", onData)
    })
  })

/** A request served normally on a fresh connection: the server still serves other clients. */
export const stillServes = (harness: EdgeHarness) =>
  Effect.gen(function*() {
    const connection = yield* harness.connect
    connection.request("/ok")
    const response = yield* Effect.promise(() => connection.nextResponse())
    connection.destroy()
    return response.status
  })
