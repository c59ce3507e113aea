// One hostile HTTP exchange over a fresh TCP socket: exact bytes out, every response parsed back.
// The client half-closes after writing (it has nothing more to say), so a server that answers
// closes the socket soon after; a socket still silent and open after `timeoutMs` is reported as
// unanswered and destroyed. Never throws: the fuzz test judges what came back.
import * as Net from "node:net"

export interface ParsedResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

export interface Exchange {
  readonly responses: ReadonlyArray<ParsedResponse>
  /** How it ended: the server closed (or reset) the socket, or nothing happened in time. */
  readonly ending: "closed" | "reset" | "timeout" | "refused"
  /** Bytes after the last complete response that are not a response (a broken reply). */
  readonly trailing: string
}

/** Splits `buffer` into complete HTTP/1.x responses. `headRequest`: the first final response has
 * no body. A response without length runs to the end of the stream (only once it ended). */
export const parseResponses = (buffer: Buffer, ended: boolean, headRequest = false) => {
  const responses: Array<ParsedResponse> = []
  let offset = 0
  let headPending = headRequest
  for (;;) {
    const end = buffer.indexOf("\r\n\r\n", offset)
    if (end === -1) break
    const head = buffer.subarray(offset, end).toString("latin1").split("\r\n")
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? "")
    if (match === null) break
    const status = Number(match[1])
    const headers: Record<string, string> = {}
    for (const line of head.slice(1)) {
      const colon = line.indexOf(":")
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
    }
    let bodyStart = end + 4
    let bodyEnd = bodyStart
    const noBody = status < 200 || status === 204 || status === 304 || (headPending && status >= 200) || status === 101
    if (!noBody) {
      if (headers["transfer-encoding"]?.toLowerCase().includes("chunked")) {
        let at = bodyStart
        let chunks = Buffer.alloc(0)
        let complete = false
        for (;;) {
          const lineEnd = buffer.indexOf("\r\n", at)
          if (lineEnd === -1) break
          const size = parseInt(buffer.subarray(at, lineEnd).toString("latin1"), 16)
          if (!Number.isFinite(size)) break
          if (size === 0) {
            const trailerEnd = buffer.indexOf("\r\n\r\n", lineEnd)
            if (trailerEnd === -1 && buffer.indexOf("\r\n", lineEnd + 2) !== lineEnd + 2) break
            at = trailerEnd === -1 ? lineEnd + 4 : trailerEnd + 4
            complete = true
            break
          }
          if (buffer.length < lineEnd + 2 + size + 2) break
          chunks = Buffer.concat([chunks, buffer.subarray(lineEnd + 2, lineEnd + 2 + size)])
          at = lineEnd + 2 + size + 2
        }
        if (!complete) break
        responses.push({ status, headers, body: chunks.toString("utf8") })
        offset = at
        if (status >= 200) headPending = false
        continue
      }
      const length = headers["content-length"]
      if (length !== undefined) {
        bodyEnd = bodyStart + Number(length)
        if (buffer.length < bodyEnd) break
      } else {
        if (!ended) break
        bodyEnd = buffer.length
      }
    }
    responses.push({ status, headers, body: buffer.subarray(bodyStart, bodyEnd).toString("utf8") })
    offset = bodyEnd
    if (status >= 200 && status !== 101) headPending = false
    if (status === 101) {
      offset = buffer.length // the rest is WebSocket frames, not HTTP
      break
    }
    bodyStart = offset
  }
  return { responses, rest: buffer.subarray(offset) }
}

export interface ExchangeOptions {
  /** How long to wait for the expected responses before half-closing; then as long again. */
  readonly timeoutMs?: number
  /** Final (>= 200) responses expected; once they arrived the socket is destroyed. Default 1. */
  readonly expect?: number
  /** The request is HEAD: its response has no body. */
  readonly headRequest?: boolean
  /** Half-close right after writing, as `nc -N` does (Node may take it for a client gone). */
  readonly finAtOnce?: boolean
}

/**
 * Writes `bytes` and waits for `expect` final responses or the server's close. A server still
 * waiting after `timeoutMs` (say, for body bytes a lying Content-Length promised) is sent a FIN
 * and gets `timeoutMs` more. The client never half-closes first: Node takes an early FIN for a
 * client gone away and would drop the very response under test.
 */
export const exchange = (port: number, bytes: Buffer, options: ExchangeOptions = {}): Promise<Exchange> =>
  new Promise((resolve) => {
    const socket = Net.connect({ port, host: "127.0.0.1" })
    const timeoutMs = options.timeoutMs ?? 1_000
    let buffer = Buffer.alloc(0)
    let settled = false
    const finish = (ending: Exchange["ending"]) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      const { responses, rest } = parseResponses(buffer, ending !== "timeout", options.headRequest)
      resolve({ responses, ending, trailing: rest.toString("latin1").slice(0, 200) })
    }
    let timer = setTimeout(() => {
      socket.end()
      timer = setTimeout(() => finish("timeout"), timeoutMs)
    }, timeoutMs)
    socket.once("connect", () => {
      socket.write(bytes)
      if (options.finAtOnce === true) socket.end()
    })
    socket.on("data", (chunk) => {
      buffer = Buffer.concat([buffer, chunk])
      const finals = parseResponses(buffer, false, options.headRequest).responses.filter((r) => r.status >= 200)
      if (finals.length >= (options.expect ?? 1) || finals.some((r) => r.status === 101)) finish("closed")
    })
    socket.on("error", (error: NodeJS.ErrnoException) => finish(error.code === "ECONNREFUSED" ? "refused" : "reset"))
    socket.once("close", () => finish("closed"))
  })
