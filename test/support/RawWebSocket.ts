// A WebSocket client over a raw TCP socket: exact control of every frame byte (invalid UTF-8,
// reserved bits, lying lengths), which the `ws` client refuses to send. Frames from the server
// are parsed back; the close code it sent is recorded.
import * as Crypto from "node:crypto"
import * as Net from "node:net"
import { waitFor } from "./spawnService.js"

export const Opcode = { Continuation: 0, Text: 1, Binary: 2, Close: 8, Ping: 9, Pong: 10 } as const

export interface FrameOptions {
  readonly fin?: boolean
  /** RSV1..3 as the three bits 0b100..0b001. */
  readonly rsv?: number
  readonly mask?: boolean
  /** The length to declare, when it should lie about the payload. */
  readonly declaredLength?: number
}

/** One client frame (masked, as RFC 6455 requires of clients unless told otherwise). */
export const frame = (opcode: number, payload: Uint8Array | string, options: FrameOptions = {}): Buffer => {
  const body = Buffer.from(typeof payload === "string" ? Buffer.from(payload, "utf8") : payload)
  const length = options.declaredLength ?? body.length
  const mask = options.mask ?? true
  const first = ((options.fin ?? true) ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | (opcode & 0x0f)
  let head: Buffer
  if (length < 126) head = Buffer.from([first, (mask ? 0x80 : 0) | length])
  else if (length < 65_536) {
    head = Buffer.alloc(4)
    head[0] = first
    head[1] = (mask ? 0x80 : 0) | 126
    head.writeUInt16BE(length, 2)
  } else {
    head = Buffer.alloc(10)
    head[0] = first
    head[1] = (mask ? 0x80 : 0) | 127
    head.writeBigUInt64BE(BigInt(length), 2)
  }
  if (!mask) return Buffer.concat([head, body])
  const key = Crypto.randomBytes(4)
  for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ key[i % 4]!
  return Buffer.concat([head, key, body])
}

/** Client frames as text, unmasked: `text "..."`, `close 03e7`; a frame cut short says so. */
export const describeClientFrames = (bytes: Buffer, max = 240): string => {
  const out: Array<string> = []
  let at = 0
  while (at + 2 <= bytes.length && out.length < 20) {
    const first = bytes[at]!
    const masked = (bytes[at + 1]! & 0x80) !== 0
    let length = bytes[at + 1]! & 0x7f
    let head = at + 2
    if (length === 126) [length, head] = [bytes.readUInt16BE(at + 2), at + 4]
    else if (length === 127) [length, head] = [Number(bytes.readBigUInt64BE(at + 2)), at + 10]
    const key = masked ? bytes.subarray(head, head + 4) : undefined
    const start = head + (masked ? 4 : 0)
    const payload = Buffer.from(bytes.subarray(start, Math.min(start + length, bytes.length)))
    if (key !== undefined) for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ key[i % 4]!
    const flags = `${(first & 0x80) === 0 ? " fin=0" : ""}${(first & 0x70) !== 0 ? ` rsv=${(first >> 4) & 7}` : ""}${masked ? "" : " unmasked"}`
    const body = (first & 0x0f) === Opcode.Close || (first & 0x0f) === Opcode.Binary ? payload.toString("hex") : JSON.stringify(payload.toString("latin1"))
    out.push(`op${first & 0x0f}${flags} len=${length} ${body.length > max ? `${body.slice(0, max)}...(${body.length})` : body}`)
    at = start + length
  }
  const more = at < bytes.length ? ` +${bytes.length - at} bytes` : ""
  return out.join(" | ") + more
}

export interface ServerFrame {
  readonly opcode: number
  readonly payload: Buffer
}

export const HANDSHAKE_KEY = "dGhlIHNhbXBsZSBub25jZQ=="

export const handshake = (path = "/ws", extraHeaders = "") =>
  `GET ${path} HTTP/1.1\r\nHost: fuzz\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${HANDSHAKE_KEY}\r\n${extraHeaders}\r\n`

export class RawWebSocket {
  readonly frames: Array<ServerFrame> = []
  /** The code in the server's close frame, once one arrived. */
  closeCode: number | undefined
  private buffer = Buffer.alloc(0)
  private readonly waiters = new Set<() => void>()
  ended = false
  readonly closed: Promise<void>

  private constructor(readonly socket: Net.Socket, rest: Buffer) {
    socket.on("data", (chunk) => this.take(chunk))
    this.closed = new Promise((resolve) =>
      socket.once("close", () => {
        this.ended = true
        this.wake()
        resolve()
      })
    )
    if (rest.length > 0) this.take(rest)
  }

  /** Opens a session (101 expected); rejects with the status line otherwise. */
  static open(port: number, path = "/ws"): Promise<RawWebSocket> {
    return waitFor(
      new Promise((resolve, reject) => {
        const socket = Net.connect({ port, host: "127.0.0.1" }, () => socket.write(handshake(path)))
        let head = Buffer.alloc(0)
        const onData = (chunk: Buffer) => {
          head = Buffer.concat([head, chunk])
          const end = head.indexOf("\r\n\r\n")
          if (end === -1) return
          socket.off("data", onData)
          const status = head.subarray(0, head.indexOf("\r\n")).toString("latin1")
          if (!status.startsWith("HTTP/1.1 101")) {
            socket.destroy()
            reject(new Error(`upgrade refused: ${status}`))
          } else resolve(new RawWebSocket(socket, head.subarray(end + 4)))
        }
        socket.on("data", onData)
        socket.on("error", reject)
      }),
      10_000,
      "a raw WebSocket handshake"
    )
  }

  send(bytes: Buffer) {
    if (!this.socket.destroyed) this.socket.write(bytes)
  }

  /** Waits until `predicate` holds over the frames so far, or the socket closes, or `timeoutMs`. */
  until(predicate: (frames: ReadonlyArray<ServerFrame>) => boolean, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check = () => {
        if (predicate(this.frames)) done(true)
        else if (this.ended) done(false)
      }
      const done = (value: boolean) => {
        clearTimeout(timer)
        this.waiters.delete(check)
        resolve(value)
      }
      const timer = setTimeout(() => done(false), timeoutMs)
      this.waiters.add(check)
      check()
    })
  }

  destroy() {
    this.socket.destroy()
  }

  private wake() {
    for (const wake of Array.from(this.waiters)) wake()
  }

  private take(chunk: Buffer) {
    this.buffer = Buffer.concat([this.buffer, chunk])
    for (;;) {
      if (this.buffer.length < 2) break
      const opcode = this.buffer[0]! & 0x0f
      let length = this.buffer[1]! & 0x7f
      let at = 2
      if (length === 126) {
        if (this.buffer.length < 4) break
        length = this.buffer.readUInt16BE(2)
        at = 4
      } else if (length === 127) {
        if (this.buffer.length < 10) break
        length = Number(this.buffer.readBigUInt64BE(2))
        at = 10
      }
      if (this.buffer.length < at + length) break
      const payload = this.buffer.subarray(at, at + length)
      this.frames.push({ opcode, payload })
      if (opcode === Opcode.Close && this.closeCode === undefined) this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005
      this.buffer = this.buffer.subarray(at + length)
    }
    this.wake()
  }
}
