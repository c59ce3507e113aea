/**
 * An HTTP listener that owns its node http.Server, every socket it accepts and every request
 * fiber it starts.
 * Owns: the http.Server, every socket it accepts (upgraded ones too), the FiberSet of
 *   request fibers.
 * Does not own: the routes (the HttpApp it is given) or the shutdown latch (it only reads it).
 * Released when: its scope closes. The release is the drain, within the shutdown budget:
 *   drain delay (still serving, Connection: close) -> close the listener and idle sockets ->
 *   requests on still-open sockets get 503 + Connection: close -> wait for in-flight work ->
 *   at the deadline interrupt stragglers (they answer 503, their finalizers run) -> destroy
 *   every socket left.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { type HttpApp, HttpMiddleware } from "@effect/platform"
import { Data, Deferred, Duration, Effect, Exit, FiberSet, Option } from "effect"
import * as Http from "node:http"
import * as Net from "node:net"
import type { Duplex } from "node:stream"
import * as Condition from "../lifecycle/Condition.js"
import { FiberRegistry } from "../lifecycle/FiberRegistry.js"
import { Shutdown } from "../lifecycle/Shutdown.js"
import { FORCE_GRACE_MS } from "../lifecycle/ShutdownRunner.js"
import { errorBody } from "./ErrorResponse.js"
import { listenBacklog, nodeServerOptions } from "./NodeLimits.js"
import { withRequestLifecycle } from "./RequestLifecycle.js"

export class ServeError extends Data.TaggedError("ServeError")<{
  readonly server: string
  readonly reason: "Listen" | "Runtime"
  readonly cause: unknown
}> {
  override get message() {
    return `${this.server} server: ${this.reason === "Listen" ? "cannot listen" : "listener failed"}: ${String(this.cause)}`
  }
}

/** Who serves upgraded (WebSocket) connections on this server. */
export interface Upgrades {
  /** Takes the upgrade if it serves this path; false lets the server answer 404. */
  readonly handle: (request: Http.IncomingMessage, socket: Duplex, head: Buffer) => boolean
  /** When the listener closes: tell every upgraded peer to go away and wait for them at most
   * `within`, then cut the rest. The HTTP drain runs meanwhile. */
  readonly goAway: (within: Duration.Duration) => Effect.Effect<void>
}

export interface ServerOptions {
  /** "public" or "admin": names log lines, phases and owned fibers. */
  readonly name: string
  readonly host: string
  readonly port: number
  readonly drainDelayMs: number
  readonly requestTimeoutMs: number
  readonly upgrades?: Upgrades
}

/** How long WebSocket peers get to answer a going-away close before they are cut. */
export const GOING_AWAY_WAIT_MS = 1_000

export interface RunningServer {
  readonly name: string
  readonly host: string
  readonly port: number
  /** Fails if the listener breaks after it started: a fatal failure of this component. */
  readonly failure: Effect.Effect<never, ServeError>
  /** requestFibers counts whole request fibers, response writing included (the leak check). */
  readonly stats: () => { readonly sockets: number; readonly inFlight: number; readonly requestFibers: number }
}

/** One accepted socket. Upgraded sockets stay here too: Node forgets them, this server does not. */
interface Connection {
  readonly socket: Net.Socket
  /** Responses started on this socket and not yet closed (pipelining can queue several). */
  readonly responses: Set<Http.ServerResponse>
  /** socket.bytesRead when its last response closed: more than that means a request is arriving. */
  settledBytes: number
  readonly acceptedAt: number
}

/** A socket accepted this recently that has sent nothing yet is probably sending its first
 * request right now: at close-listener it gets the rest of this time before it counts as idle. */
export const FRESH_SOCKET_GRACE_MS = 250

/** The longest close-listener keeps accepting connections the kernel had already queued. */
export const ACCEPT_DRAIN_MAX_MS = 1_000

/** Idle: nothing to answer and no request half-received. Zero-byte sockets are idle too (Node
 * would keep them until the deadline). */
const isIdle = (connection: Connection) =>
  connection.responses.size === 0 && connection.socket.bytesRead === connection.settledBytes

/**
 * platform-node writes a body with `response.end(body, callback)` inside an uninterruptible
 * region and waits for the callback, which Node calls on 'finish' only. A socket that dies
 * first never finishes: the request fiber would wait forever and hold the drain to the
 * deadline. The callback therefore also runs when the response closes, whichever comes first.
 */
const settleEndCallbackOnClose = (response: Http.ServerResponse) => {
  const end = response.end
  let settle: (() => void) | undefined
  response.end = function(this: Http.ServerResponse, ...args: Array<unknown>) {
    const callback = args.at(-1)
    if (typeof callback === "function") {
      let settled = false
      settle = () => {
        if (settled) return
        settled = true
        callback()
      }
      args[args.length - 1] = settle
    }
    return Reflect.apply(end, this, args)
  } as typeof response.end
  response.once("close", () => settle?.())
}

/** Answers an upgrade request on the raw socket (no HTTP response object exists for it). */
const refuseUpgrade = (socket: Duplex, status: 404 | 503) => {
  const body = status === 503 ? errorBody("ShuttingDown", "the service is shutting down") : errorBody("NotFound", "no such route")
  socket.end(
    `HTTP/1.1 ${status} ${Http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n${status === 503 ? "retry-after: 5\r\n" : ""}\r\n${body}`
  )
}

const refuse = (response: Http.ServerResponse) => {
  const body = errorBody("ShuttingDown", "the service is shutting down")
  response.writeHead(503, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "connection": "close",
    "retry-after": "5"
  })
  response.end(body)
}

export const make = <R>(options: ServerOptions, app: HttpApp.Default<never, R>) =>
  Effect.gen(function*() {
    const shutdown = yield* Shutdown
    const registry = yield* FiberRegistry
    const requests = yield* FiberSet.make()
    const failure = yield* Deferred.make<never, ServeError>()
    const connections = new Map<Net.Socket, Connection>()
    let accepting = true
    const disconnected = Condition.make(() => !accepting && connections.size === 0)

    // The platform's server span (one attribute per request header, a URL parsed per request)
    // is off: withRequestLifecycle opens a lean one of its own.
    const handler = yield* NodeHttpServer.makeHandler(
      withRequestLifecycle(app, { owner: `http.${options.name}`, timeoutMs: options.requestTimeoutMs, requests, registry })
    ).pipe(HttpMiddleware.withTracerDisabledWhenEffect(() => true))
    const server = Http.createServer(nodeServerOptions)
    let acceptedTotal = 0
    server.on("connection", (socket: Net.Socket) => {
      acceptedTotal += 1
      const connection: Connection = { socket, responses: new Set(), settledBytes: 0, acceptedAt: performance.now() }
      connections.set(socket, connection)
      socket.once("close", () => {
        // Responses still queued behind a closed socket (pipelining) never get a socket, so Node
        // never closes them: close them here, which also interrupts their request fibers.
        for (const response of Array.from(connection.responses)) {
          response.destroy()
          response.emit("close")
        }
        connections.delete(socket)
        disconnected.check()
      })
    })
    // Only the last response queued on a socket may close it: with pipelining, an earlier
    // response carrying Connection: close makes Node drop every response queued behind it.
    const admit = (connection: Connection, response: Http.ServerResponse) => {
      if (shutdown.isShuttingDown()) {
        for (const earlier of connection.responses) if (!earlier.headersSent) earlier.removeHeader("connection")
      }
      connection.responses.add(response)
      settleEndCallbackOnClose(response)
      response.once("close", () => {
        connection.responses.delete(response)
        connection.settledBytes = connection.socket.bytesRead
      })
    }
    server.on("request", (request, response) => {
      const connection = connections.get(request.socket)
      if (connection !== undefined) admit(connection, response)
      if (!accepting) return refuse(response)
      if (shutdown.isShuttingDown()) response.setHeader("connection", "close")
      handler(request, response)
    })
    // From the instant shutdown begins a new upgrade gets 503: a session opened now would only
    // be told to go away.
    server.on("upgrade", (request: Http.IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!accepting || shutdown.isShuttingDown()) return refuseUpgrade(socket, 503)
      if (options.upgrades === undefined || !options.upgrades.handle(request, socket, head)) refuseUpgrade(socket, 404)
    })

    const listen = Effect.async<void, ServeError>((resume) => {
      const onError = (cause: Error) => resume(Effect.fail(new ServeError({ server: options.name, reason: "Listen", cause })))
      server.once("error", onError)
      server.listen({ host: options.host, port: options.port, backlog: listenBacklog }, () => {
        server.off("error", onError)
        server.on("error", (cause) => Deferred.unsafeDone(failure, Exit.fail(new ServeError({ server: options.name, reason: "Runtime", cause }))))
        resume(Effect.void)
      })
    })

    const waitDrained = Effect.zipRight(disconnected.await, FiberSet.awaitEmpty(requests))

    const phase = (name: string) => <A, E, X>(self: Effect.Effect<A, E, X>) =>
      shutdown.phase(name)(self).pipe(Effect.annotateLogs({ server: options.name }))

    const drain = Effect.gen(function*() {
      if (options.drainDelayMs > 0) {
        const remaining = yield* shutdown.remaining
        yield* phase("drain-delay")(Effect.sleep(Duration.min(Duration.millis(options.drainDelayMs), remaining)))
      }
      yield* phase("close-listener")(Effect.gen(function*() {
        accepting = false
        // Closing the listener makes the kernel reset every connection still in its accept queue,
        // and those clients cannot tell their request was never seen. Node accepts one queued
        // connection per event-loop turn, so let poll phases run while they still accept (at most
        // ACCEPT_DRAIN_MAX_MS); accepted now, their requests get 503 + Connection: close. Then one
        // more turn reads request bytes already sitting in socket buffers before anything counts
        // as idle (a new socket starts reading on the next poll).
        const pollPhase = Effect.async<void>((resume) => void setImmediate(() => setImmediate(() => resume(Effect.void))))
        const drainStarted = performance.now()
        for (;;) {
          const before = acceptedTotal
          yield* pollPhase
          if (acceptedTotal === before || performance.now() - drainStarted > ACCEPT_DRAIN_MAX_MS) break
        }
        // Only the listening socket: http.Server.close() would also run Node's own idle sweep,
        // which cannot see request bytes still unread in socket buffers. Ours runs after one more
        // poll phase has read them (and Node keeps enforcing header timeouts meanwhile).
        Net.Server.prototype.close.call(server)
        yield* pollPhase
        const now = performance.now()
        for (const connection of connections.values()) {
          if (!isIdle(connection)) continue
          const young = connection.socket.bytesRead === 0 ? connection.acceptedAt + FRESH_SOCKET_GRACE_MS - now : 0
          if (young <= 0) connection.socket.destroy()
          else setTimeout(() => isIdle(connection) && connection.socket.destroy(), young).unref()
        }
        disconnected.check()
      }))
      const remaining = yield* shutdown.remaining
      const goingAway = options.upgrades === undefined
        ? Effect.void
        : phase("ws-going-away")(options.upgrades.goAway(Duration.min(remaining, Duration.millis(GOING_AWAY_WAIT_MS))))
      // Interruptible on purpose: this runs inside a finalizer, and the timeout must be able to cut it.
      const [, drained] = yield* Effect.all([
        goingAway,
        phase("drain")(waitDrained.pipe(Effect.interruptible, Effect.timeoutOption(remaining)))
      ], { concurrency: 2 })
      if (Option.isNone(drained)) {
        const stragglers = yield* registry.snapshot
        const mine = stragglers.filter((fiber) => fiber.owner === `http.${options.name}`)
        yield* shutdown.recordForced(`${options.name}: ${mine.length} requests, ${connections.size} sockets at the deadline`)
        yield* phase("interrupt")(
          Effect.logWarning("deadline reached: interrupting requests still running").pipe(
            Effect.annotateLogs({ running: mine, sockets: connections.size }),
            Effect.zipRight(FiberSet.clear(requests).pipe(Effect.interruptible, Effect.timeoutOption(FORCE_GRACE_MS / 2)))
          )
        )
      }
      // The deadline is the backstop for every socket left, slow-loris ones included. Then
      // http.Server.close() clears Node's connection-checking interval (the listener is closed).
      yield* Effect.sync(() => {
        for (const connection of connections.values()) connection.socket.destroy()
        server.close()
      })
    })

    yield* Effect.acquireRelease(listen, () => drain)
    // From the instant shutdown begins, responses not yet started carry Connection: close.
    yield* registry.fork("close connections on shutdown", `http.${options.name}`)(Effect.zipRight(
      shutdown.await,
      Effect.sync(() => {
        for (const connection of connections.values()) {
          const last = Array.from(connection.responses).at(-1)
          if (last !== undefined && !last.headersSent) last.setHeader("connection", "close")
        }
      })
    ))

    const address = server.address()
    const port = address !== null && typeof address === "object" ? address.port : options.port
    return {
      name: options.name,
      host: options.host,
      port,
      failure: Deferred.await(failure),
      stats: () => ({
        sockets: connections.size,
        inFlight: Array.from(connections.values()).reduce((sum, connection) => sum + connection.responses.size, 0),
        requestFibers: Array.from(requests).length
      })
    } satisfies RunningServer
  })
