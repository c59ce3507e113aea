/**
 * Every socket a draining server accepted, what each one is doing, and the numbers `stats` reads.
 * Owns: the table of connections (upgraded sockets stay in it: Node forgets them, we do not) and
 *   the latch that opens once the listener stopped accepting and the last socket closed.
 * Does not own: the sockets' lifetimes (the drain policy closes them) or the request fibers.
 * Released when: each entry, when its socket closes; the table, with the server.
 */
import { Effect } from "effect"
import type * as Http from "node:http"
import type * as Net from "node:net"
import type { Duplex } from "node:stream"
import type { Edge } from "../../lifecycle/NodeEdge.js"
import { lingerWhileBodyArrives } from "../ResponsePatches.js"
import * as WireMetrics from "../WireMetrics.js"

/** One accepted socket. */
export interface Connection {
  readonly socket: Net.Socket
  /** Responses started on this socket and not yet closed (pipelining can queue several). */
  readonly responses: Set<Http.ServerResponse>
  /** socket.bytesRead when its last response closed: more than that means a request is arriving. */
  settledBytes: number
  readonly acceptedAt: number
  /** The request Node parsed last on this socket: its body may still be arriving. */
  lastRequest: Http.IncomingMessage | undefined
  /** An upgrade is being served on it, or was taken (a WebSocket session): work the drain
   * waits for and the deadline cuts, never swept as idle. */
  upgraded: boolean
}

/** Idle: nothing to answer and no request half-received. Zero-byte sockets are idle too (Node
 * would keep them until the deadline). */
export const isIdle = (connection: Connection) =>
  connection.responses.size === 0 && connection.socket.bytesRead === connection.settledBytes

/** Work the drain waits for and the deadline cuts: a response under way, or an upgraded socket. */
export const holdsWork = (connection: Connection) => connection.upgraded || connection.responses.size > 0

export interface Stats {
  readonly sockets: number
  readonly inFlight: number
}

export const make = (edge: Edge) => {
  const table = new Map<Duplex, Connection>()
  let accepting = true
  let acceptedTotal = 0
  // Opens once the listener stopped accepting and no socket is left: nothing can reopen it.
  const disconnected = Effect.unsafeMakeLatch(false)
  const check = () => {
    if (!accepting && table.size === 0) disconnected.unsafeOpen()
  }

  const forget = (connection: Connection) => {
    table.delete(connection.socket)
    // Responses still queued behind a closed socket (pipelining) never get a socket, so Node
    // never closes them: close them here, which also interrupts their request fibers.
    for (const response of Array.from(connection.responses)) {
      connection.responses.delete(response)
      response.destroy()
      response.emit("close")
    }
    check()
  }

  /** Node's 'connection': start tracking `socket` (once: an upgrade served as a plain request
   * comes back with its socket). */
  const accept = (socket: Net.Socket) => {
    if (table.has(socket)) return
    acceptedTotal += 1
    const connection: Connection = {
      socket,
      responses: new Set(),
      settledBytes: 0,
      acceptedAt: performance.now(),
      lastRequest: undefined,
      upgraded: false
    }
    table.set(socket, connection)
    socket.once("close", edge.guard("socket close", () => forget(connection), () => forget(connection)))
    lingerWhileBodyArrives(socket, () => connection.lastRequest, edge)
  }

  /** A response starts on `connection`. Only the last response queued on a socket may close it:
   * with pipelining, an earlier response carrying Connection: close makes Node drop every
   * response queued behind it. */
  const admit = (connection: Connection, request: Http.IncomingMessage, response: Http.ServerResponse, shuttingDown: boolean) => {
    if (shuttingDown) {
      for (const earlier of connection.responses) if (!earlier.headersSent) earlier.removeHeader("connection")
    }
    connection.responses.add(response)
    connection.lastRequest = request
    // Counted when it closes ('close' follows 'finish', or a socket that died): what went out.
    const record = WireMetrics.track(request.method ?? "GET", response)
    response.once("close", edge.guard("response close", () => {
      connection.responses.delete(response)
      connection.settledBytes = connection.socket.bytesRead
      record()
    }, () => connection.responses.delete(response)))
  }

  return {
    get: (socket: Duplex): Connection | undefined => table.get(socket),
    all: (): ReadonlyArray<Connection> => Array.from(table.values()),
    accept,
    admit,
    unsafeAccepting: () => accepting,
    unsafeAcceptedTotal: () => acceptedTotal,
    /** close-listener: from now on every request is refused; the latch may open. */
    stopAccepting: () => {
      accepting = false
      check()
    },
    /** Waits until the listener is closed and every socket is gone. */
    disconnected: disconnected.await,
    unsafeStats: (): Stats => {
      let inFlight = 0
      for (const connection of table.values()) inFlight += connection.responses.size
      return { sockets: table.size, inFlight }
    },
    size: () => table.size
  }
}

export type Connections = ReturnType<typeof make>
