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
 * Every callback Node calls goes through the NodeEdge guard: a throw fails that one request or
 * socket, never the process. Server: connection, request, checkContinue, upgrade, connect,
 * clientError, error, the listen callback. Socket: close, destroySoon (Node calls it after a
 * closing answer). Response: close, the end callback. Timers: the drain's poll phases,
 * the fresh-socket and slow-headers timers, the lingering-close timer and its socket events
 * (RawAnswer), the request timeout timer (RequestLifecycle).
 */
import { NodeHttpServer } from "@effect/platform-node"
import { type HttpApp, HttpMiddleware } from "@effect/platform"
import { Data, Deferred, Duration, Effect, Exit, FiberSet, Option } from "effect"
import * as Http from "node:http"
import * as Net from "node:net"
import type { Duplex } from "node:stream"
import * as Condition from "../lifecycle/Condition.js"
import { FiberRegistry } from "../lifecycle/FiberRegistry.js"
import * as NodeEdge from "../lifecycle/NodeEdge.js"
import { Shutdown } from "../lifecycle/Shutdown.js"
import { FORCE_GRACE_MS } from "../lifecycle/ShutdownRunner.js"
import { errorBody } from "./ErrorResponse.js"
import { listenBacklog, nodeServerOptions } from "./NodeLimits.js"
import { MAX_BODY_BYTES } from "./public/ErrorsMiddleware.js"
import { answerRaw, clientErrorRefusal, isLingering, lingeringClose, type Refusal, targetIsUrl } from "./RawAnswer.js"
import { withRequestLifecycle } from "./RequestLifecycle.js"
import { declaredLength, hasBody, keepSocketWhenBodyAbandoned, settleEndCallbackOnClose } from "./ResponsePatches.js"
import { serveAsPlainRequest } from "./UpgradeFallback.js"
import * as WireMetrics from "./WireMetrics.js"

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
  /** Takes the upgrade if it serves this path; false serves the request as a plain one. */
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
  /** A larger declared body is answered 413 before it is read (and without 100 Continue).
   * Default: the public API's MAX_BODY_BYTES. */
  readonly maxBodyBytes?: number
  /** The guard every Node callback goes through; made in this scope unless given (tests give
   * one that throws on purpose). */
  readonly edge?: NodeEdge.Edge
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
  /** The request Node parsed last on this socket: its body may still be arriving. */
  lastRequest: Http.IncomingMessage | undefined
  /** Taken by the upgrades handler: a WebSocket session, stopped by goAway, not by the sweep. */
  upgraded: boolean
}

/** A socket accepted this recently that has sent nothing yet is probably sending its first
 * request right now: at close-listener it gets the rest of this time before it counts as idle. */
export const FRESH_SOCKET_GRACE_MS = 250

/** A socket that has sent part of a request head, and no request yet, is not in-flight work. At
 * close-listener it gets this long (at most half the budget left) to finish its head and be
 * answered 503 + Connection: close; then it is closed. It never holds the drain to the deadline. */
export const SLOW_HEADERS_GRACE_MS = 1_000

/** The longest close-listener keeps accepting connections the kernel had already queued. */
export const ACCEPT_DRAIN_MAX_MS = 1_000

/** Idle: nothing to answer and no request half-received. Zero-byte sockets are idle too (Node
 * would keep them until the deadline). */
const isIdle = (connection: Connection) =>
  connection.responses.size === 0 && connection.socket.bytesRead === connection.settledBytes

/** Work the drain waits for and the deadline cuts: a response under way, or a WebSocket session. */
const holdsWork = (connection: Connection) => connection.upgraded || connection.responses.size > 0

const shuttingDown: Refusal = {
  status: 503,
  error: "ShuttingDown",
  message: "the service is shutting down",
  headers: { "retry-after": "5" }
}
const badTarget: Refusal = { status: 400, error: "BadRequest", message: "the request-target is not a valid URL" }
const tooLarge = (limit: number): Refusal => ({
  status: 413,
  error: "PayloadTooLarge",
  message: `the request body is larger than ${limit} bytes`
})

/** Answers through the node response, before any fiber runs. */
const answer = (response: Http.ServerResponse, refusal: Refusal, close: boolean) => {
  const body = errorBody(refusal.error, refusal.message)
  if (close) response.shouldKeepAlive = false
  response.writeHead(refusal.status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    ...(close ? { "connection": "close" } : {}),
    ...refusal.headers
  })
  response.end(body)
}

/** What a throw in our own request code (a bug) costs: that one request, 500 without internals. */
const failRequest = (response: Http.ServerResponse) => {
  if (response.headersSent) return void response.destroy()
  answer(response, { status: 500, error: "InternalServerError", message: "internal error" }, true)
}

export const make = <R>(options: ServerOptions, app: HttpApp.Default<never, R>) =>
  Effect.gen(function*() {
    const shutdown = yield* Shutdown
    const registry = yield* FiberRegistry
    const edge = options.edge ?? (yield* NodeEdge.make)
    const maxBodyBytes = options.maxBodyBytes ?? MAX_BODY_BYTES
    const requests = yield* FiberSet.make()
    const failure = yield* Deferred.make<never, ServeError>()
    const connections = new Map<Net.Socket, Connection>()
    let accepting = true
    const disconnected = Condition.make(() => !accepting && connections.size === 0)

    // The platform's server span (one attribute per request header, a URL parsed per request)
    // is off: withRequestLifecycle opens a lean one of its own.
    const handler = yield* NodeHttpServer.makeHandler(
      withRequestLifecycle(app, { owner: `http.${options.name}`, timeoutMs: options.requestTimeoutMs, requests, registry, edge })
    ).pipe(HttpMiddleware.withTracerDisabledWhenEffect(() => true))
    const server = Http.createServer(nodeServerOptions(options.requestTimeoutMs))
    let acceptedTotal = 0

    /** Node calls destroySoon after an answer that closes the connection. If the request body is
     * still arriving, closing now would reset the connection under the answer: linger instead. */
    const lingerWhileBodyArrives = (connection: Connection) => {
      const { socket } = connection
      const destroySoon = socket.destroySoon
      socket.destroySoon = edge.guard("socket destroySoon", () => {
        const request = connection.lastRequest
        if (request !== undefined && !request.complete) lingeringClose(socket, edge)
        else destroySoon.call(socket)
      }, () => socket.destroy())
    }

    const forget = (connection: Connection) => {
      connections.delete(connection.socket)
      // Responses still queued behind a closed socket (pipelining) never get a socket, so Node
      // never closes them: close them here, which also interrupts their request fibers.
      for (const response of Array.from(connection.responses)) {
        connection.responses.delete(response)
        response.destroy()
        response.emit("close")
      }
      disconnected.check()
    }

    server.on("connection", edge.guard("connection", (socket: Net.Socket) => {
      // An upgrade served as a plain request comes back here with its socket: already tracked.
      if (connections.has(socket)) return
      acceptedTotal += 1
      const connection: Connection = {
        socket,
        responses: new Set(),
        settledBytes: 0,
        acceptedAt: performance.now(),
        lastRequest: undefined,
        upgraded: false
      }
      connections.set(socket, connection)
      socket.once("close", edge.guard("socket close", () => forget(connection), () => forget(connection)))
      lingerWhileBodyArrives(connection)
    }, (_, socket) => socket.destroy()))

    // Only the last response queued on a socket may close it: with pipelining, an earlier
    // response carrying Connection: close makes Node drop every response queued behind it.
    const admit = (connection: Connection, request: Http.IncomingMessage, response: Http.ServerResponse) => {
      if (shutdown.isShuttingDown()) {
        for (const earlier of connection.responses) if (!earlier.headersSent) earlier.removeHeader("connection")
      }
      connection.responses.add(response)
      connection.lastRequest = request
      settleEndCallbackOnClose(response, edge)
      // Counted when it closes ('close' follows 'finish', or a socket that died): what went out.
      const record = WireMetrics.track(request.method ?? "GET", response)
      response.once("close", edge.guard("response close", () => {
        connection.responses.delete(response)
        connection.settledBytes = connection.socket.bytesRead
        record()
      }, () => connection.responses.delete(response)))
    }

    /** Every request, whichever event Node announced it with. Refusals are decided here, once,
     * before the app sees the request. */
    const serve = (request: Http.IncomingMessage, response: Http.ServerResponse, expectsContinue: boolean) => {
      const connection = connections.get(request.socket as Net.Socket)
      // A request pipelined after an answer that closed the connection: nobody will read a reply.
      if (isLingering(request.socket)) return void request.resume()
      if (connection !== undefined) admit(connection, request, response)
      if (!accepting) return answer(response, shuttingDown, true)
      if (!targetIsUrl(request.url)) {
        edge.clientError("BadRequestTarget", "request-target is not a URL; answered 400", { method: request.method, length: request.url?.length })
        // A body nobody will read: close after the answer rather than read it to keep the socket.
        return answer(response, badTarget, hasBody(request))
      }
      if (declaredLength(request) > maxBodyBytes) {
        // Refused before its body is read (and without 100 Continue); the connection closes after,
        // lingering while the client may still be sending it.
        edge.clientError("PayloadTooLarge", "declared body over the limit; answered 413", {
          declared: declaredLength(request),
          limit: maxBodyBytes,
          expectsContinue
        })
        return answer(response, tooLarge(maxBodyBytes), true)
      }
      if (expectsContinue) response.writeContinue()
      if (shutdown.isShuttingDown()) response.setHeader("connection", "close")
      if (hasBody(request)) keepSocketWhenBodyAbandoned(request, response)
      handler(request, response)
    }

    server.on("request", edge.guard("request", (request, response) => serve(request, response, false), (_, __, response) => failRequest(response)))
    // With this listener Node no longer sends 100 Continue by itself: serve decides first.
    server.on("checkContinue", edge.guard("checkContinue", (request, response) => serve(request, response, true), (_, __, response) => failRequest(response)))

    // Node routes every request with Connection: Upgrade here. A target that is not a URL is
    // served (answered 400) as a plain request; from the instant shutdown begins a new upgrade
    // gets 503 (a session opened now would only be told to go away); one nobody upgrades is an
    // ordinary request (h2c from curl --http2, a WebSocket handshake on another path).
    server.on("upgrade", edge.guard("upgrade", (request: Http.IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!targetIsUrl(request.url)) return serveAsPlainRequest(server, request, socket, head)
      if (!accepting || shutdown.isShuttingDown()) return answerRaw(socket, shuttingDown, edge)
      const connection = connections.get(socket as Net.Socket)
      if (connection !== undefined) connection.upgraded = true
      if (options.upgrades !== undefined && options.upgrades.handle(request, socket, head)) return
      if (connection !== undefined) connection.upgraded = false
      serveAsPlainRequest(server, request, socket, head)
    }, (_, __, socket) => socket.destroy()))

    // CONNECT (a proxy tunnel) is not served here. Node would reset the connection without a word.
    server.on("connect", edge.guard("connect", (_: Http.IncomingMessage, socket: Duplex) => {
      edge.clientError("Connect", "CONNECT refused; answered 400")
      answerRaw(socket, { status: 400, error: "BadRequest", message: "CONNECT is not served here" }, edge)
    }, (_, __, socket) => socket.destroy()))

    // Bytes Node's parser rejects (a malformed request line, bad headers, a header or request
    // timeout): a JSON 4xx with Connection: close, never a 5xx, unless an answer is already on
    // the wire. Node reports every further chunk of a broken stream again: answered once.
    server.on("clientError", edge.guard("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
      if (isLingering(socket)) return
      if (error.code === "ECONNRESET" || !socket.writable) return void socket.destroy()
      const pending = Array.from(connections.get(socket as Net.Socket)?.responses ?? [])
      if (pending.some((response) => response.headersSent)) return void socket.destroy()
      const refusal = clientErrorRefusal(error.code)
      const first = pending.at(0)
      if (first !== undefined) WireMetrics.answeredRaw(first, refusal.status)
      edge.clientError(refusal.error, `request refused by the HTTP parser; answered ${refusal.status}`, { code: error.code })
      answerRaw(socket, refusal, edge)
    }, (_, __, socket) => socket.destroy()))

    const listen = Effect.async<void, ServeError>((resume) => {
      const listenFailed = (cause: unknown) => resume(Effect.fail(new ServeError({ server: options.name, reason: "Listen", cause })))
      const onError = edge.guard("listen error", listenFailed)
      server.once("error", onError)
      server.listen({ host: options.host, port: options.port, backlog: listenBacklog }, edge.guard("listening", () => {
        server.off("error", onError)
        const broke = (cause: unknown) => Deferred.unsafeDone(failure, Exit.fail(new ServeError({ server: options.name, reason: "Runtime", cause })))
        server.on("error", edge.guard("server error", broke, broke))
        resume(Effect.void)
      }, listenFailed))
    })

    const waitDrained = Effect.zipRight(disconnected.await, FiberSet.awaitEmpty(requests))

    const annotated = <A, E, X>(self: Effect.Effect<A, E, X>) => Effect.annotateLogs(self, { server: options.name })
    const phase = (name: string) => <A, E, X>(self: Effect.Effect<A, E, X>) => annotated(shutdown.phase(name)(self))
    const phaseWithin = (name: string, within: Duration.DurationInput) => <A, E, X>(self: Effect.Effect<A, E, X>) =>
      annotated(shutdown.phaseWithin(name, within)(self))

    const later = (where: string, ms: number, connection: Connection, callback: () => void) =>
      setTimeout(edge.guard(where, callback, () => connection.socket.destroy()), Math.max(0, ms)).unref()

    /**
     * What close-listener does with a socket that holds no work. Idle: closed (one that has sent
     * nothing yet and is fresh gets FRESH_SOCKET_GRACE_MS first: its request is probably on the
     * way). Part of a request head and no request yet: closed at `headsDueAt` unless it has become
     * work by then (its finished head was answered 503 + Connection: close, which closes it).
     */
    const sweep = (connection: Connection, headsDueAt: number): void => {
      if (holdsWork(connection)) return
      const now = performance.now()
      if (isIdle(connection)) {
        const young = connection.socket.bytesRead === 0 ? connection.acceptedAt + FRESH_SOCKET_GRACE_MS - now : 0
        if (young <= 0) return void connection.socket.destroy()
        return void later("fresh socket timer", young, connection, () => sweep(connection, headsDueAt))
      }
      if (now >= headsDueAt) return void connection.socket.destroy()
      later("slow headers timer", headsDueAt - now, connection, () => sweep(connection, headsDueAt))
    }

    const drain = Effect.gen(function*() {
      if (options.drainDelayMs > 0) {
        yield* phaseWithin("drain-delay", yield* shutdown.remaining)(Effect.sleep(Duration.millis(options.drainDelayMs)))
      }
      yield* phase("close-listener")(Effect.gen(function*() {
        accepting = false
        // Closing the listener makes the kernel reset every connection still in its accept queue,
        // and those clients cannot tell their request was never seen. Node accepts one queued
        // connection per event-loop turn, so let poll phases run while they still accept (at most
        // ACCEPT_DRAIN_MAX_MS); accepted now, their requests get 503 + Connection: close. Then one
        // more turn reads request bytes already sitting in socket buffers before anything counts
        // as idle (a new socket starts reading on the next poll).
        const pollPhase = Effect.async<void>((resume) => {
          const resumeNow = () => resume(Effect.void)
          setImmediate(edge.guard("poll phase", () => setImmediate(edge.guard("poll phase", resumeNow, resumeNow)), resumeNow))
        })
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
        const headsGraceMs = Math.min(SLOW_HEADERS_GRACE_MS, Duration.toMillis(yield* shutdown.remaining) / 2)
        const headsDueAt = performance.now() + headsGraceMs
        for (const connection of Array.from(connections.values())) sweep(connection, headsDueAt)
        disconnected.check()
      }))
      const remaining = yield* shutdown.remaining
      const goingAway = options.upgrades === undefined
        ? Effect.void
        : phase("ws-going-away")(options.upgrades.goAway(Duration.min(remaining, Duration.millis(GOING_AWAY_WAIT_MS))))
      const [, drained] = yield* Effect.all([goingAway, phaseWithin("drain", remaining)(waitDrained)], { concurrency: 2 })
      const mine = (yield* registry.snapshot).filter((fiber) => fiber.owner === `http.${options.name}`)
      // Exit 124 means work was cut: a request, or a session. A socket still sending its request
      // head, or lingering after its answer, is not work; it is simply closed below.
      const working = Array.from(connections.values()).filter(holdsWork)
      if (Option.isNone(drained) && (mine.length > 0 || working.length > 0)) {
        yield* shutdown.recordForced(`${options.name}: ${mine.length} requests, ${connections.size} sockets at the deadline`)
        yield* phaseWithin("interrupt", FORCE_GRACE_MS / 2)(
          Effect.logWarning("deadline reached: interrupting requests still running").pipe(
            Effect.annotateLogs({ running: mine, sockets: connections.size }),
            Effect.zipRight(FiberSet.clear(requests))
          )
        )
      }
      // The deadline is the backstop for every socket left. Then http.Server.close() clears
      // Node's connection-checking interval (the listener is closed).
      yield* Effect.sync(() => {
        for (const connection of Array.from(connections.values())) connection.socket.destroy()
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
