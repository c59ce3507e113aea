// Answers written straight onto a socket, for requests that never got a node ServerResponse (an
// upgrade we refuse, bytes Node's parser rejected), and the lingering close every such answer,
// and every answer given before its request body was read, ends with.
import * as Http from "node:http"
import type { Duplex } from "node:stream"
import type { Edge } from "../lifecycle/NodeEdge.js"
import { errorBody } from "./ErrorResponse.js"
import { LINGER_MS } from "./NodeLimits.js"

export interface Refusal {
  readonly status: number
  readonly error: string
  readonly message: string
  readonly headers?: Readonly<Record<string, string>>
}

/** The JSON error body and its head, always with Connection: close (the socket is closed after). */
export const rawResponse = (refusal: Refusal): string => {
  const body = errorBody(refusal.error, refusal.message)
  const extra = Object.entries(refusal.headers ?? {}).map(([name, value]) => `${name}: ${value}\r\n`).join("")
  return `HTTP/1.1 ${refusal.status} ${Http.STATUS_CODES[refusal.status] ?? ""}\r\ncontent-type: application/json\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n${extra}\r\n${body}`
}

const lingering = new WeakSet<Duplex>()

/**
 * Half-closes the socket after what was written, keeps reading (and discarding) what the client
 * still sends, and destroys it when the client closes its side or after LINGER_MS. Closing a
 * socket with unread bytes makes the kernel reset the connection, and the reset can destroy the
 * answer in the client's buffers before it is read: a 413 would look like a network failure.
 */
export const lingeringClose = (socket: Duplex, edge: Edge): void => {
  if (socket.destroyed || lingering.has(socket)) return
  lingering.add(socket)
  const destroy = () => socket.destroy()
  const timer = setTimeout(edge.guard("lingering close timer", destroy, destroy), LINGER_MS)
  timer.unref()
  socket.once("close", edge.guard("lingering close: socket close", () => clearTimeout(timer)))
  socket.once("end", edge.guard("lingering close: client end", destroy, destroy))
  // Without Node's parser (an upgrade socket) nobody reads: discard here. With it, the parser
  // reads and discards the rest of the body itself.
  if (socket.listenerCount("data") === 0) socket.on("data", () => undefined)
  socket.resume()
  socket.end()
}

/** True once `lingeringClose` began on this socket: it has answered and writes nothing more. */
export const isLingering = (socket: Duplex): boolean => lingering.has(socket)

/** Writes `refusal` and closes lingering. */
export const answerRaw = (socket: Duplex, refusal: Refusal, edge: Edge): void => {
  if (socket.destroyed || !socket.writable || lingering.has(socket)) return void socket.destroy()
  socket.write(rawResponse(refusal))
  lingeringClose(socket, edge)
}

/** What Node's parser rejected, as the answer it gets (never a 5xx: it is the client's bytes). */
export const clientErrorRefusal = (code: string | undefined): Refusal => {
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return { status: 431, error: "RequestHeaderFieldsTooLarge", message: "the request headers are too large" }
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return { status: 413, error: "PayloadTooLarge", message: "the chunk extensions are too large" }
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return { status: 408, error: "RequestTimeout", message: "the request was not received in time" }
    default:
      return { status: 400, error: "BadRequest", message: "the request could not be parsed" }
  }
}

/** The base every `new URL(target, base)` in the app and the platform resolves against. */
const BASE = "http://x"

/**
 * True when the request-target parses as a URL. Node's parser accepts targets the WHATWG URL
 * parser rejects (`http://[`, `//%`); the server refuses those once, before any handler (the
 * router, the admin dispatch, the WebSocket hub) calls `new URL` on them and throws.
 */
export const targetIsUrl = (target: string | undefined): boolean => {
  if (target === undefined) return false
  // The hot path, without parsing: "/" then a printable character other than "/" or "\\" is a
  // path, and the URL parser percent-encodes (never rejects) whatever a path holds. Only a
  // target that starts like an authority ("//", "/\\", or "/<tab>/": tabs and newlines are
  // dropped before parsing) or is not origin-form can fail.
  if (target === "/") return true
  const second = target.charCodeAt(1)
  if (target.charCodeAt(0) === 47 && second > 32 && second !== 47 && second !== 92) return true
  return parsesAsUrl(target)
}

/**
 * `new URL` itself, not `URL.canParse`: Node 20's optimized `canParse` (a V8 fast call) reads a
 * Latin-1 string's bytes as UTF-8, so once hot it disagrees with `new URL` on targets holding bytes
 * 0x80-0xFF, in both directions (test/http/RequestTarget.test.ts shows it).
 */
export const parsesAsUrl = (target: string): boolean => {
  try {
    new URL(target, BASE)
    return true
  } catch {
    return false
  }
}
