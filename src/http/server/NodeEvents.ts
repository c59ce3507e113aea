/**
 * The node http.Server's events, as the draining server answers them. Refusals are decided here,
 * once, before the app sees a request: not a URL -> 400, declared body over the limit -> 413,
 * listener closed -> 503 + Connection: close; CONNECT -> 400; bytes Node's parser rejects -> a
 * JSON 4xx. What passes goes to the app through `Serving` (whatever serve attached).
 * Every callback goes through the NodeEdge guard: a throw fails that one request or socket,
 * never the process.
 * Owns: the listeners it adds (they go with the http.Server).
 * Does not own: the sockets (Connections), the app (Serving).
 */
import type * as Http from "node:http"
import type * as Net from "node:net"
import type { Duplex } from "node:stream"
import type { Edge } from "../../lifecycle/NodeEdge.js"
import type { Shutdown } from "../../lifecycle/Shutdown.js"
import { answerRaw, clientErrorRefusal, isLingering, type Refusal, targetIsUrl } from "../RawAnswer.js"
import { declaredLength, hasBody, keepSocketWhenBodyAbandoned } from "../ResponsePatches.js"
import { serveAsPlainRequest } from "../UpgradeFallback.js"
import * as WireMetrics from "../WireMetrics.js"
import type { Connection, Connections } from "./Connections.js"
import { answer, badTarget, failRequest, shuttingDown, tooLarge } from "./Refusals.js"

/** What `serve` attached: runs the app for a request, or for an upgrade. */
export interface Serving {
  readonly request: (request: Http.IncomingMessage, response: Http.ServerResponse) => void
  readonly upgrade: (request: Http.IncomingMessage, socket: Duplex, head: Buffer, connection: Connection | undefined) => void
}

const notServing: Refusal = {
  status: 503,
  error: "NotReady",
  message: "the server is not serving yet",
  headers: { "retry-after": "1" }
}

/** A WebSocket handshake goes to the app (a route may take it). Any other upgrade (h2c from
 * `curl --http2`) is never served here: it is a plain request, served by Node's parser again so
 * its body, keep-alive and pipelining work (UpgradeFallback). */
const isWebSocket = (request: Http.IncomingMessage) => request.headers.upgrade?.toLowerCase() === "websocket"

export interface EventsInput {
  readonly server: Http.Server
  readonly connections: Connections
  readonly edge: Edge
  readonly shutdown: Shutdown["Type"]
  readonly maxBodyBytes: number
  readonly serving: () => Serving | undefined
}

export const attach = (input: EventsInput) => {
  const { connections, edge, server, shutdown } = input

  server.on("connection", edge.guard("connection", (socket: Net.Socket) => connections.accept(socket), (_, socket) => socket.destroy()))

  /** Every request, whichever event Node announced it with. */
  const request = (request: Http.IncomingMessage, response: Http.ServerResponse, expectsContinue: boolean) => {
    const connection = connections.get(request.socket)
    // A request pipelined after an answer that closed the connection: nobody will read a reply.
    if (isLingering(request.socket)) return void request.resume()
    if (connection !== undefined) connections.admit(connection, request, response, shutdown.unsafeIsShuttingDown())
    if (!connections.unsafeAccepting()) return answer(response, shuttingDown, true)
    if (!targetIsUrl(request.url)) {
      edge.clientError("BadRequestTarget", "request-target is not a URL; answered 400", { method: request.method, length: request.url?.length })
      // A body nobody will read: close after the answer rather than read it to keep the socket.
      return answer(response, badTarget, hasBody(request))
    }
    if (declaredLength(request) > input.maxBodyBytes) {
      // Refused before its body is read (and without 100 Continue); the connection closes after,
      // lingering while the client may still be sending it.
      edge.clientError("PayloadTooLarge", "declared body over the limit; answered 413", {
        declared: declaredLength(request),
        limit: input.maxBodyBytes,
        expectsContinue
      })
      return answer(response, tooLarge(input.maxBodyBytes), true)
    }
    const serving = input.serving()
    if (serving === undefined) return answer(response, notServing, false)
    if (expectsContinue) response.writeContinue()
    if (shutdown.unsafeIsShuttingDown()) response.setHeader("connection", "close")
    if (hasBody(request)) keepSocketWhenBodyAbandoned(request, response)
    serving.request(request, response)
  }

  server.on("request", edge.guard("request", (req, res) => request(req, res, false), (_, __, res) => failRequest(res)))
  // With this listener Node no longer sends 100 Continue by itself: we decide first.
  server.on("checkContinue", edge.guard("checkContinue", (req, res) => request(req, res, true), (_, __, res) => failRequest(res)))

  // Node routes every request with Connection: Upgrade here. A target that is not a URL is
  // served (answered 400) as a plain request; from the instant shutdown begins a new upgrade
  // gets 503 (a session opened now would only be told to go away). A WebSocket handshake goes
  // to the app with its socket offered (server/Upgrade.ts); any other upgrade is a plain request.
  server.on("upgrade", edge.guard("upgrade", (request: Http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!targetIsUrl(request.url)) return serveAsPlainRequest(server, request, socket, head)
    if (!connections.unsafeAccepting() || shutdown.unsafeIsShuttingDown()) return answerRaw(socket, shuttingDown, edge)
    const serving = input.serving()
    if (serving === undefined || !isWebSocket(request)) return serveAsPlainRequest(server, request, socket, head)
    const connection = connections.get(socket)
    if (connection !== undefined) connection.upgraded = true
    serving.upgrade(request, socket, head, connection)
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
    const pending = Array.from(connections.get(socket)?.responses ?? [])
    if (pending.some((response) => response.headersSent)) return void socket.destroy()
    const refusal = clientErrorRefusal(error.code)
    const first = pending.at(0)
    if (first !== undefined) WireMetrics.answeredRaw(first, refusal.status)
    edge.clientError(refusal.error, `request refused by the HTTP parser; answered ${refusal.status}`, { code: error.code })
    answerRaw(socket, refusal, edge)
  }, (_, __, socket) => socket.destroy()))
}
