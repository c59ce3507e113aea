// WebSocket sessions against the real process: messages, limits, heartbeat, slow consumers,
// going-away on shutdown, and no leak after 1,000 sessions.
import * as Net from "node:net"
import { describe, expect, it, vi } from "vitest"
import { parsePrometheus, valueOf } from "../support/parsePrometheus.js"
import { type Service, spawnService, waitFor } from "../support/spawnService.js"
import { connect } from "./wsClients.js"

// Real child processes: a start alone has taken over 10 s on a loaded machine (test:stress).
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 })

const sessionClosed = (service: Service, code: number, timeoutMs = 5_000) =>
  service.waitForLine((line) => line.message === "ws session closed" && line.closeCode === code, timeoutMs)

const metric = async (service: Service, name: string) =>
  valueOf(parsePrometheus(await (await fetch(`http://127.0.0.1:${service.adminPort}/metrics`)).text()), name)

/** Polls an observation of the service (its gauge, its fiber list: not a sleep) until `ok`; returns the last value. */
const until = async <A>(read: () => Promise<A>, ok: (value: A) => boolean, timeoutMs = 10_000) => {
  const deadline = performance.now() + timeoutMs
  let value = await read()
  while (!ok(value) && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    value = await read()
  }
  return value
}

const ownedFibers = async (service: Service) =>
  ((await (await fetch(`http://127.0.0.1:${service.adminPort}/debug/fibers`)).json()) as { fibers: Array<{ name: string }> })
    .fibers.filter((fiber) => !fiber.name.startsWith("GET /")).length

describe("WebSocket sessions", () => {
  it("echo and broadcast across 3 clients; error frames for bad JSON, unknown type, binary; the session goes on", async () => {
    const service = await spawnService()
    const [a, b, c] = await Promise.all([connect(service.port), connect(service.port), connect(service.port)])
    a!.ws.send(JSON.stringify({ type: "echo", data: { n: 1 } }))
    expect(await a!.next()).toEqual({ type: "echo", data: { n: 1 } })
    b!.ws.send(JSON.stringify({ type: "broadcast", data: "to all" }))
    for (const client of [a!, b!, c!]) expect(await client.next()).toEqual({ type: "broadcast", data: "to all" })
    a!.ws.send("{not json")
    expect(await a!.next()).toEqual({ type: "error", error: "invalid JSON" })
    a!.ws.send(JSON.stringify({ type: "dance", data: 1 }))
    expect(await a!.next()).toMatchObject({ type: "error", error: expect.stringContaining("unknown message") })
    a!.ws.send(Buffer.from([1, 2, 3]), { binary: true })
    expect(await a!.next()).toMatchObject({ type: "error", error: expect.stringContaining("binary") })
    a!.ws.send(JSON.stringify({ type: "echo", data: "still here" }))
    expect(await a!.next()).toEqual({ type: "echo", data: "still here" })
    expect(c!.messages).toHaveLength(1) // c got the broadcast only, none of a's errors
  })

  it("a message over WS_MAX_MESSAGE_BYTES -> close 1009", async () => {
    const service = await spawnService({ WS_MAX_MESSAGE_BYTES: "1024" })
    const client = await connect(service.port)
    client.ws.send(JSON.stringify({ type: "echo", data: "x".repeat(2_000) }))
    expect((await waitFor(client.closed, 5_000, "close")).code).toBe(1009)
    expect(await sessionClosed(service, 1009)).toMatchObject({ sessionId: expect.any(String), durationMs: expect.any(Number) })
  })

  // A 1.5 s pong timeout: the answering client (in this busy test process) must never miss it.
  it("a client that never answers pings is closed with 1011 after the pong timeout", async () => {
    const service = await spawnService({ WS_PING_INTERVAL_MS: "200", WS_PONG_TIMEOUT_MS: "1500" })
    const opened = performance.now() // before the silent session exists: it cannot close sooner than 1.7 s after
    const silent = await connect(service.port, { autoPong: false })
    const alive = await connect(service.port)
    expect((await waitFor(silent.closed, 10_000, "close")).code).toBe(1011)
    expect(performance.now() - opened).toBeGreaterThanOrEqual(1_500)
    expect(await sessionClosed(service, 1011)).toMatchObject({ reason: "no pong within WS_PONG_TIMEOUT_MS" })
    // A client that answers pings is untouched.
    alive.ws.send(JSON.stringify({ type: "echo", data: 1 }))
    expect(await alive.next()).toEqual({ type: "echo", data: 1 })
  })

  // Cut off once it has read nothing for SlowConsumer.STALL_WINDOW (5 s) with 1 MiB unsent.
  it("a client that never reads: its buffers fill, it is cut off with 1008, and 50 others still get a broadcast promptly", async () => {
    const service = await spawnService({ WS_SEND_QUEUE: "4" })
    const others = await Promise.all(Array.from({ length: 50 }, () => connect(service.port)))
    const slow = await connect(service.port)
    ;(slow.ws as unknown as { _socket: Net.Socket })._socket.pause() // stops reading; still writes
    const frame = JSON.stringify({ type: "echo", data: "y".repeat(60_000) })
    for (let i = 0; i < 200 && !service.lines.some((line) => line.closeCode === 1008); i++) {
      slow.ws.send(frame)
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(await sessionClosed(service, 1008, 15_000)).toMatchObject({ reason: "slow consumer" })
    const sent = performance.now()
    others[0]!.ws.send(JSON.stringify({ type: "broadcast", data: "still flowing" }))
    await Promise.all(others.map((client) => client.next(5_000)))
    // Promptly: not after the 5 s stall window a blocked broadcast would wait for.
    expect(performance.now() - sent).toBeLessThan(3_000)
    for (const client of others) expect(client.messages.at(-1)).toEqual({ type: "broadcast", data: "still flowing" })
  }, 90_000)

  // An 8 s budget: the deaf peer is cut after the 1 s going-away wait, well inside it.
  it("shutdown with 100 sessions: each gets 1001, a peer that ignores the close frame is cut, exit 0 within the budget", async () => {
    const service = await spawnService({ SHUTDOWN_TIMEOUT_MS: "8000" })
    const clients = await Promise.all(Array.from({ length: 100 }, () => connect(service.port)))
    // A peer that completes the handshake, then never reads or answers anything.
    const deaf = Net.connect({ port: service.port, host: "127.0.0.1" })
    deaf.on("error", () => undefined)
    deaf.write(
      "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    await waitFor(new Promise((resolve) => deaf.once("data", resolve)), 5_000, "the 101 response")
    deaf.pause()
    const deafClosed = new Promise((resolve) => deaf.once("close", resolve))
    const sent = service.signal("SIGTERM")
    const codes = await Promise.all(clients.map((client) => waitFor(client.closed, 8_000, "close")))
    expect(codes.every(({ code }) => code === 1001)).toBe(true)
    const exited = await waitFor(service.exited, 10_000, "exit")
    expect(exited.code).toBe(0)
    expect(exited.at - sent).toBeLessThan(8_000)
    deaf.resume() // paused, it could not see its own close
    await waitFor(deafClosed, 5_000, "the deaf peer to be cut")
    expect(service.lines.some((line) => line.message === "ws peers did not answer going-away; cutting them")).toBe(true)
    // The going-away runs in the public server's drain, beside the HTTP drain, before the admin listener closes.
    const phases = service.lines.filter((line) => line.message === "shutdown phase").map((line) => `${line.phase}/${line.server ?? ""}`)
    expect(phases.indexOf("ws-going-away/public")).toBeGreaterThan(phases.indexOf("close-listener/public"))
    expect(phases.indexOf("ws-going-away/public")).toBeLessThan(phases.indexOf("close-listener/admin"))
  }, 90_000)

  it("a new upgrade during shutdown gets 503; other paths 404", async () => {
    const service = await spawnService({ DRAIN_DELAY_MS: "500" })
    await expect(connect(service.port, {}, "/elsewhere")).rejects.toThrow("upgrade refused: 404")
    await connect(service.port) // /ws is served
    service.signal("SIGTERM")
    await service.waitForLine((line) => line.message === "shutdown")
    await expect(connect(service.port)).rejects.toThrow("upgrade refused: 503")
  })

  it("no leak: 1,000 sessions ended three ways leave the hub and the owned fibers at baseline", async () => {
    // 1 s for a pong: a loaded test machine can delay the clients' automatic pongs past 500 ms.
    const service = await spawnService({ WS_PING_INTERVAL_MS: "150", WS_PONG_TIMEOUT_MS: "1000" })
    const baseline = await ownedFibers(service)
    for (let batch = 0; batch < 10; batch++) {
      const clients = await Promise.all(Array.from({ length: 100 }, (_, i) => connect(service.port, { autoPong: i % 3 !== 2 })))
      // A client's "open" comes before the server has registered its session: wait for the gauge.
      // The third that does not answer pings may already be gone (1.15 s) on a loaded machine; the
      // two thirds that answer cannot be.
      expect(await until(() => metric(service, "ws_sessions"), (value) => value >= 67)).toBeGreaterThanOrEqual(67)
      clients.forEach((client, i) => {
        if (i % 3 === 0) client.ws.close(1000, "bye") // clean close
        else if (i % 3 === 1) client.ws.terminate() // abrupt socket destroy
        // i % 3 === 2: autoPong off, left to the pong timeout
      })
      await Promise.all(clients.map((client) => waitFor(client.closed, 10_000, "close")))
    }
    // The gauge, the fiber list and the log are three observations of one ending: wait for each.
    expect(await until(() => metric(service, "ws_sessions"), (value) => value === 0)).toBe(0)
    expect(await until(() => ownedFibers(service), (value) => value === baseline)).toBe(baseline)
    const closedLines = () => service.lines.filter((line) => line.message === "ws session closed").length
    await service.waitForLine(() => closedLines() >= 1_000, 10_000).catch(() => undefined)
    expect(closedLines()).toBe(1_000)
  }, 240_000)
})
