// A raw HTTP/1.1 client over one TCP socket: exact control of keep-alive, pipelining and
// half-sent requests. Responses are parsed by Content-Length (every response here has one).
import * as Net from "node:net"
import { onTestFinished } from "vitest"
import { waitFor } from "./spawnService.js"

export interface RawResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

export class RawConnection {
  private buffer = Buffer.alloc(0)
  private readonly waiters = new Set<() => void>()
  private ended = false
  readonly closed: Promise<void>

  private constructor(readonly socket: Net.Socket) {
    socket.on("data", (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk])
      this.wake()
    })
    socket.on("error", () => undefined)
    this.closed = new Promise((resolve) =>
      socket.once("close", () => {
        this.ended = true
        this.wake()
        resolve()
      })
    )
  }

  static open(port: number, timeoutMs = 5_000): Promise<RawConnection> {
    return waitFor(
      new Promise((resolve, reject) => {
        const socket = Net.connect({ port, host: "127.0.0.1" }, () => resolve(new RawConnection(socket)))
        socket.once("error", reject)
        onTestFinished(() => void socket.destroy())
      }),
      timeoutMs,
      "a connection"
    )
  }

  get isClosed() {
    return this.ended
  }

  write(text: string) {
    this.socket.write(text)
  }

  /** Writes one keep-alive GET (or other method) request. */
  request(path: string, method = "GET", headers: Record<string, string> = {}) {
    const lines = [`${method} ${path} HTTP/1.1`, "Host: test", ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)]
    this.write(lines.join("\r\n") + "\r\n\r\n")
  }

  /** The next complete response, or a rejection if the socket closes first. */
  nextResponse(timeoutMs = 5_000): Promise<RawResponse> {
    return waitFor(
      new Promise<RawResponse>((resolve, reject) => {
        const check = () => {
          const parsed = this.parse()
          if (parsed !== undefined) {
            this.waiters.delete(check)
            resolve(parsed)
          } else if (this.ended) {
            this.waiters.delete(check)
            reject(new Error(`connection closed before a response (${this.buffer.length} bytes unparsed)`))
          }
        }
        this.waiters.add(check)
        check()
      }),
      timeoutMs,
      "a response"
    )
  }

  destroy() {
    this.socket.destroy()
  }

  private wake() {
    for (const wake of this.waiters) wake()
  }

  private parse(): RawResponse | undefined {
    const end = this.buffer.indexOf("\r\n\r\n")
    if (end === -1) return undefined
    const head = this.buffer.subarray(0, end).toString("latin1").split("\r\n")
    const status = Number(head[0]?.split(" ")[1])
    const headers: Record<string, string> = {}
    for (const line of head.slice(1)) {
      const colon = line.indexOf(":")
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
    }
    const length = Number(headers["content-length"] ?? "0")
    if (this.buffer.length < end + 4 + length) return undefined
    const body = this.buffer.subarray(end + 4, end + 4 + length).toString("utf8")
    this.buffer = this.buffer.subarray(end + 4 + length)
    return { status, headers, body }
  }
}
