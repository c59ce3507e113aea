// Hostile WebSocket clients against the real process (issue 16): none can end the process, cut
// off other clients, or make the log lie about what was sent.
import * as Net from "node:net"
import { describe, expect, it, vi } from "vitest"
import { type Service, spawnService, waitFor } from "../support/spawnService.js"
import { type Client, connect } from "./wsClients.js"
import { frame, Opcode, rawSocket } from "./wsFrames.js"

// Real child processes: a start alone has taken over 10 s on a loaded machine (test:stress).
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 })

const closedLines = (service: Service) => service.lines.filter((line) => line.message === "ws session closed")

/** Reads `count` messages from `client`, each within `timeoutMs`. */
const take = async (client: Client, count: number, timeoutMs = 5_000) => {
  const got: Array<unknown> = []
  for (let i = 0; i < count; i++) got.push(await client.next(timeoutMs))
  return got
}

const stillServes = async (service: Service) => {
  expect((await fetch(`http://127.0.0.1:${service.port}/healthz`)).status).toBe(200)
  const client = await connect(service.port)
  client.ws.send(JSON.stringify({ type: "echo", data: "alive" }))
  expect(await client.next()).toEqual({ type: "echo", data: "alive" })
}

const rawUpgrade = (port: number, target: string) =>
  waitFor(
    new Promise<string>((resolve) => {
      const socket = Net.connect({ port, host: "127.0.0.1" })
      let answer = ""
      socket.on("error", () => undefined)
      // The answer's status line is what counts; the server may keep a plain 400 connection open.
      socket.on("data", (chunk) => {
        answer += chunk.toString("latin1")
        if (answer.includes("\r\n\r\n")) {
          resolve(answer)
          socket.destroy()
        }
      })
      socket.on("close", () => resolve(answer))
      socket.write(
        `GET ${target} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
      )
    }),
    3_000,
    "the upgrade answer"
  )

const HANDSHAKE = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

/** Writes the handshake and `frames` in ONE write; gives the first server frame after the 101. */
const handshakeWith = (port: number, frames: Buffer) =>
  waitFor(
    new Promise<{ readonly opcode: number; readonly payload: Buffer }>((resolve, reject) => {
      const socket = Net.connect({ port, host: "127.0.0.1" })
      let received = Buffer.alloc(0)
      socket.on("error", reject)
      socket.on("data", (chunk) => {
        received = Buffer.concat([received, chunk])
        const head = received.indexOf("\r\n\r\n")
        if (head === -1) return
        const rest = received.subarray(head + 4)
        if (rest.length < 2 || rest.length < 2 + (rest[1]! & 0x7f)) return // small frames only
        resolve({ opcode: rest[0]! & 0x0f, payload: rest.subarray(2, 2 + (rest[1]! & 0x7f)) })
        socket.destroy()
      })
      socket.write(Buffer.concat([Buffer.from(HANDSHAKE, "latin1"), frames]))
    }),
    3_000,
    "the first frame after the handshake"
  )

describe("hostile WebSocket clients", () => {
  it("a frame in the same write as the upgrade request is served (valid) or refused 1007 (invalid UTF-8); the process lives", async () => {
    const service = await spawnService()
    const early = await handshakeWith(service.port, frame(Opcode.Text, JSON.stringify({ type: "echo", data: "early" })))
    expect({ opcode: early.opcode, message: JSON.parse(early.payload.toString()) }).toEqual({
      opcode: Opcode.Text,
      message: { type: "echo", data: "early" }
    })
    const invalid = await handshakeWith(service.port, frame(Opcode.Text, Buffer.from([0x22, 0xff, 0x22])))
    expect({ opcode: invalid.opcode, code: invalid.payload.readUInt16BE(0) }).toEqual({ opcode: 0x8, code: 1007 })
    await stillServes(service)
    expect(service.lines.filter((line) => line.level === "error")).toEqual([])
  })

  it("an upgrade whose request-target is not a URL is refused with a 4xx; the process serves on and exits 0", async () => {
    const service = await spawnService()
    for (const target of ["http://[/ws", "http://[::1/ws", "//[/ws"]) {
      expect(await rawUpgrade(service.port, target)).toMatch(/^HTTP\/1\.1 4\d\d /)
    }
    await stillServes(service)
    service.signal("SIGTERM")
    expect((await waitFor(service.exited, 5_000, "exit")).code).toBe(0)
  })

  it("deeply nested JSON in a message -> an error frame; the session and the process go on", async () => {
    const service = await spawnService()
    const client = await connect(service.port)
    const deep = "[".repeat(20_000) + "]".repeat(20_000)
    client.ws.send(`{"type":"echo","data":${deep}}`)
    expect(await client.next()).toEqual({ type: "error", error: expect.stringContaining("nested deeper than") })
    client.ws.send(`{"type":"broadcast","data":${"[".repeat(33)}${"]".repeat(33)}}`)
    expect(await client.next()).toEqual({ type: "error", error: expect.stringContaining("nested deeper than") })
    client.ws.send(JSON.stringify({ type: "echo", data: "still here" }))
    expect(await client.next()).toEqual({ type: "echo", data: "still here" })
    await stillServes(service)
    expect(service.lines.filter((line) => line.level === "error")).toEqual([])
  })

  it.each([["default", {}], ["4", { WS_SEND_QUEUE: "4" }]] as const)(
    "one client sends 500 broadcasts in ONE write (WS_SEND_QUEUE %s): nobody is cut off, all get all 500 in order",
    async (_, env) => {
      const service = await spawnService(env)
      const [sender, ...readers] = await Promise.all(Array.from({ length: 4 }, () => connect(service.port)))
      const burst = Buffer.concat(
        Array.from({ length: 500 }, (_, i) => frame(Opcode.Text, JSON.stringify({ type: "broadcast", data: i })))
      )
      rawSocket(sender!.ws).write(burst)
      const expected = Array.from({ length: 500 }, (_, i) => ({ type: "broadcast", data: i }))
      for (const client of [...readers, sender!]) expect(await take(client, 500)).toEqual(expected)
      // The burst client itself is not closed either: everyone still talks.
      for (const client of [sender!, ...readers]) {
        client.ws.send(JSON.stringify({ type: "echo", data: "after the burst" }))
        expect(await client.next()).toEqual({ type: "echo", data: "after the burst" })
      }
      expect(closedLines(service)).toEqual([])
    },
    20_000
  )

  it("the close code logged is the one the peer received: 1007 invalid UTF-8, 1002 protocol errors, 1009 too big", async () => {
    const service = await spawnService({ WS_MAX_MESSAGE_BYTES: "1024" })
    const cases: ReadonlyArray<readonly [number, Buffer]> = [
      [1007, frame(Opcode.Text, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]))],
      [1002, frame(Opcode.Reserved, "x")],
      [1002, frame(Opcode.Text, "{}", { masked: false })],
      [1002, frame(0x8, Buffer.from([0x03, 0xe7]))], // a close frame with code 999
      [1009, frame(Opcode.Text, JSON.stringify({ type: "echo", data: "x".repeat(2_000) }))],
      // A header announcing 2^53 bytes (masked, zero key): ws refuses it before any payload.
      [1009, Buffer.from([0x81, 0xff, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])]
    ]
    for (const [code, bytes] of cases) {
      const client = await connect(service.port)
      const before = closedLines(service).length
      rawSocket(client.ws).write(bytes)
      expect((await waitFor(client.closed, 3_000, "close")).code).toBe(code)
      await service.waitForLine(() => closedLines(service).length > before)
      expect(closedLines(service)[before]).toMatchObject({ closeCode: code })
    }
    await stillServes(service)
  })

  it("client-caused errors log at warn without a stack, never at error", async () => {
    const service = await spawnService()
    const client = await connect(service.port)
    client.ws.send("{not json")
    expect(await client.next()).toEqual({ type: "error", error: "invalid JSON" })
    client.ws.send(JSON.stringify({ type: "dance" }))
    expect(await client.next()).toMatchObject({ type: "error" })
    const utf8 = await connect(service.port)
    rawSocket(utf8.ws).write(frame(Opcode.Text, Buffer.from([0xff])))
    expect((await waitFor(utf8.closed, 3_000, "close")).code).toBe(1007)
    const warns = () => service.lines.filter((line) => line.level === "warn")
    await service.waitForLine(() => warns().length >= 3)
    expect(warns().every((line) => line.cause === undefined && line.kind !== undefined)).toBe(true)
    expect(service.lines.filter((line) => line.level === "error")).toEqual([])
  })

  it("a peer that never reads is cut off with 1008 after the stall window, and only it", async () => {
    const service = await spawnService()
    const [sender, reader] = await Promise.all([connect(service.port), connect(service.port)])
    const slow = await connect(service.port)
    rawSocket(slow.ws).pause() // stops reading; its kernel buffers, then our send buffer, fill up
    const paused = performance.now()
    const big = JSON.stringify({ type: "broadcast", data: "z".repeat(60_000) })
    let sent = 0
    for (; sent < 1_000 && !closedLines(service).some((line) => line.closeCode === 1008); sent++) {
      sender.ws.send(big)
      // Paced by the fast peers: each gets every broadcast (within the stall window at worst).
      await Promise.all([sender.next(10_000), reader.next(10_000)])
    }
    const cut = await service.waitForLine((line) => line.message === "ws session closed" && line.closeCode === 1008, 10_000)
    expect(cut).toMatchObject({ reason: "slow consumer" })
    expect(performance.now() - paused).toBeGreaterThanOrEqual(5_000)
    expect(closedLines(service)).toHaveLength(1)
    sender.ws.send(JSON.stringify({ type: "broadcast", data: "still flowing" }))
    for (const client of [sender, reader]) expect(await client.next(5_000)).toEqual({ type: "broadcast", data: "still flowing" })
  }, 90_000)
})
