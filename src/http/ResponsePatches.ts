// Two small corrections to how Node and platform-node drive a socket and a request/response
// pair, applied by the draining server (server/Connections.ts) per socket and per request. Each
// is a callback Node calls, so each goes through the edge. test/http/NodePatches.test.ts pins the
// bug each one works around: when one of those tests fails, Node or the platform fixed it and the
// patch can go.
import type * as Http from "node:http"
import type * as Net from "node:net"
import type { Edge } from "../lifecycle/NodeEdge.js"
import { lingeringClose } from "./RawAnswer.js"

/**
 * Node calls destroySoon after an answer that closes the connection. If the request body is
 * still arriving, closing now resets the connection under the answer (the client may never read
 * it): linger instead (RawAnswer.lingeringClose).
 */
export const lingerWhileBodyArrives = (socket: Net.Socket, lastRequest: () => Http.IncomingMessage | undefined, edge: Edge) => {
  const destroySoon = socket.destroySoon
  socket.destroySoon = edge.guard("socket destroySoon", () => {
    const request = lastRequest()
    if (request !== undefined && !request.complete) lingeringClose(socket, edge)
    else destroySoon.call(socket)
  }, () => socket.destroy())
}

/**
 * platform-node gives up on a body it will not read (over the size limit, or its fiber was
 * interrupted) by destroying the request, and Node answers that by destroying the socket: the
 * client gets a reset instead of the 413 or 503 it is about to be sent. Here an abandoned body
 * stops feeding the app and what still arrives is read and discarded; the answer carries
 * Connection: close, and the socket closes lingering after it (see RawAnswer.lingeringClose).
 */
export const keepSocketWhenBodyAbandoned = (request: Http.IncomingMessage, response: Http.ServerResponse) => {
  const destroy = request.destroy
  request.destroy = function(this: Http.IncomingMessage, error?: Error) {
    // Complete, or the socket is already gone (Node aborting it on close): nothing to protect.
    if (request.complete || request.socket.destroyed) return Reflect.apply(destroy, this, [error])
    if (!response.headersSent) response.shouldKeepAlive = false
    request.removeAllListeners("data")
    request.resume()
    return this
  } as typeof request.destroy
}

/** True when a body follows the head (declared, or chunked). */
export const hasBody = (request: Http.IncomingMessage): boolean =>
  declaredLength(request) > 0 || request.headers["transfer-encoding"] !== undefined

/** The declared body size, or 0 (chunked bodies are counted as they are read). */
export const declaredLength = (request: Http.IncomingMessage): number => {
  const length = Number(request.headers["content-length"] ?? 0)
  return Number.isFinite(length) ? length : 0
}
