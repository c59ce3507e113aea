// The drain contract against the real process: real sockets, real SIGTERM, real exit codes.
import { describe, expect, it, vi } from "vitest"
import { RawConnection } from "../support/RawConnection.js"
import { type Service, spawnService, waitFor } from "../support/spawnService.js"

// Real child processes: a start alone has taken over 10 s on a loaded machine (test:stress).
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 })

/** Polls the admin registry (an observation across processes, not a sleep) until n requests run. */
const untilInFlight = async (service: Service, path: string, n: number) => {
  const deadline = performance.now() + 10_000
  while (performance.now() < deadline) {
    const response = await fetch(`http://127.0.0.1:${service.adminPort}/debug/fibers`)
    const { fibers } = (await response.json()) as { fibers: Array<{ name: string }> }
    if (fibers.filter((fiber) => fiber.name === `GET ${path}`).length >= n) return
  }
  throw new Error(`never saw ${n} x GET ${path} in flight`)
}

const listenerClosed = (service: Service) =>
  service.waitForLine((line) => line.message === "shutdown phase" && line.phase === "close-listener" && line.server === "public")

describe("drain on SIGTERM", () => {
  // 6 s each: on a loaded machine the 50 requests may take seconds to all be in flight, and the
  // first must not have ended by then (the test saw 49 with 500 ms, and CI under load failed with
  // 3 s). A 30 s budget: "soon after" (5 s) cannot be confused with waiting out the budget.
  it("50 in-flight /sleep?ms=6000 on keep-alive sockets all get 200 with Connection: close; exit 0 soon after", async () => {
    const service = await spawnService({ SHUTDOWN_TIMEOUT_MS: "30000" })
    const connections = await Promise.all(Array.from({ length: 50 }, () => RawConnection.open(service.port, 10_000)))
    for (const connection of connections) connection.request("/sleep?ms=6000")
    await untilInFlight(service, "/sleep", 50)
    service.signal("SIGTERM")
    const responses = await Promise.all(connections.map((connection) => connection.nextResponse(15_000)))
    const lastResponse = performance.now()
    for (const response of responses) {
      expect(response.status).toBe(200)
      expect(JSON.parse(response.body)).toEqual({ sleptMs: 6_000 })
      expect(response.headers["connection"]).toBe("close")
    }
    await Promise.all(connections.map((connection) => waitFor(connection.closed, 5_000, "socket close")))
    const exited = await waitFor(service.exited, 10_000, "exit")
    expect(exited.code).toBe(0)
    expect(exited.at - lastResponse).toBeLessThan(5_000)
  }, 135_000)

  it("100 idle keep-alive sockets do not delay exit", async () => {
    const service = await spawnService()
    const connections = await Promise.all(Array.from({ length: 100 }, () => RawConnection.open(service.port)))
    for (const connection of connections) connection.request("/healthz")
    for (const response of await Promise.all(connections.map((connection) => connection.nextResponse()))) {
      expect(response.headers["connection"]).toBe("keep-alive")
    }
    // The slow exit this rules out is Node's: server.close() waiting out the idle sockets'
    // keep-alive timeout (5 s) or the 10 s budget; 3 s tells them apart on a loaded machine.
    const sent = service.signal("SIGTERM")
    const exited = await waitFor(service.exited, 8_000, "exit")
    expect(exited.code).toBe(0)
    expect(exited.at - sent).toBeLessThan(3_000)
    expect(connections.every((connection) => connection.isClosed)).toBe(true)
  }, 60_000)

  it("a request written on an open keep-alive socket after SIGTERM gets 503 + Connection: close, not silence", async () => {
    const service = await spawnService()
    const connection = await RawConnection.open(service.port)
    connection.request("/sleep?ms=400")
    await untilInFlight(service, "/sleep", 1)
    service.signal("SIGTERM")
    await listenerClosed(service)
    connection.request("/healthz")
    const first = await connection.nextResponse()
    const second = await connection.nextResponse()
    expect(first.status).toBe(200)
    expect(second.status).toBe(503)
    expect(second.headers["connection"]).toBe("close")
    expect(second.headers["retry-after"]).toBeDefined()
    expect(JSON.parse(second.body)).toMatchObject({ error: "ShuttingDown" })
    await waitFor(connection.closed, 5_000, "socket close")
    expect((await waitFor(service.exited, 8_000, "exit")).code).toBe(0)
  }, 60_000)

  it("a request half-sent before SIGTERM and finished after the listener closed gets 503 + Connection: close", async () => {
    const service = await spawnService()
    const connection = await RawConnection.open(service.port)
    connection.write("GET /healthz HTTP/1.1\r\nHost: test\r\n")
    // The service cannot report bytes it has not parsed into a request: let them cross loopback and
    // be read by a child process a loaded machine may not schedule for a while (unread, the socket
    // would count as idle and be closed at the listener close). Needs a seam to wait for instead.
    await new Promise((resolve) => setTimeout(resolve, 250))
    service.signal("SIGTERM")
    await listenerClosed(service)
    connection.write("\r\n")
    const response = await connection.nextResponse()
    expect(response.status).toBe(503)
    expect(response.headers["connection"]).toBe("close")
    expect((await waitFor(service.exited, 8_000, "exit")).code).toBe(0)
  }, 60_000)

  // A 3 s delay, so that "answered inside the delay" is a bound in seconds, not in milliseconds.
  it("DRAIN_DELAY_MS=3000: /readyz is 503 during the delay while /sleep is still served", async () => {
    const service = await spawnService({ DRAIN_DELAY_MS: "3000" })
    expect((await fetch(`http://127.0.0.1:${service.port}/readyz`)).status).toBe(200)
    const sent = service.signal("SIGTERM")
    await service.waitForLine((line) => line.message === "shutdown")
    const readyz = await fetch(`http://127.0.0.1:${service.port}/readyz`)
    expect(readyz.status).toBe(503)
    expect(await readyz.json()).toEqual({ status: "draining" })
    const sleep = await fetch(`http://127.0.0.1:${service.port}/sleep?ms=20`)
    expect(sleep.status).toBe(200)
    expect(sleep.headers.get("connection")).toBe("close")
    expect(performance.now() - sent).toBeLessThan(3_000) // both answered inside the delay
    const exited = await waitFor(service.exited, 8_000, "exit")
    expect(exited.code).toBe(0)
    expect(exited.at - sent).toBeGreaterThanOrEqual(3_000)
  }, 60_000)

  // Budget 1 s, a 20 s request: "cut at the budget" (< budget + 4 s) cannot be "waited for it".
  it("a request longer than the budget is interrupted: 503, its finalizer ran, exit 124 within budget + 4 s", async () => {
    const service = await spawnService({ SHUTDOWN_TIMEOUT_MS: "1000" })
    const connection = await RawConnection.open(service.port)
    connection.request("/sleep?ms=20000")
    await untilInFlight(service, "/sleep", 1)
    const sent = service.signal("SIGTERM")
    const response = await connection.nextResponse(8_000)
    expect(response.status).toBe(503)
    expect(JSON.parse(response.body)).toMatchObject({ error: "ShuttingDown" })
    const exited = await waitFor(service.exited, 8_000, "exit")
    expect(exited.code).toBe(124)
    expect(exited.at - sent).toBeGreaterThanOrEqual(1_000)
    expect(exited.at - sent).toBeLessThan(5_000)
    expect(service.lines.some((line) => line.message === "sleep interrupted" && line.ms === 20_000)).toBe(true)
    expect(service.lines.find((line) => line.message === "deadline reached: interrupting requests still running")).toMatchObject({
      running: [expect.objectContaining({ name: "GET /sleep", owner: "http.public" })]
    })
    // The log tells the truth: the drain did not finish, the deadline cut it.
    expect(service.lines.find((line) => line.message === "shutdown phase" && line.phase === "drain" && line.server === "public")).toMatchObject({
      outcome: "cut"
    })
  }, 60_000)

  // Issue 16: a half-sent head is not in-flight work, so it no longer makes the exit code 124.
  it("a client that sends half a request cannot hold the process past the budget", async () => {
    const service = await spawnService({ SHUTDOWN_TIMEOUT_MS: "500" })
    const connection = await RawConnection.open(service.port)
    connection.write("GET /healthz HTTP/1.1\r\nHost: te")
    await new Promise((resolve) => setTimeout(resolve, 50)) // let the bytes cross loopback
    // Held, it would wait for the head until Node's headersTimeout (60 s) or the deadline's 124.
    const sent = service.signal("SIGTERM")
    const exited = await waitFor(service.exited, 8_000, "exit")
    expect(exited.at - sent).toBeLessThan(4_000)
    expect(exited.code).toBe(0)
    await waitFor(connection.closed, 5_000, "socket close")
  }, 60_000)

  it("a slow-loris socket alone (half its headers sent) does not hold a 10 s drain: exit 0, nothing forced", async () => {
    const service = await spawnService({ SHUTDOWN_TIMEOUT_MS: "10000" })
    const connection = await RawConnection.open(service.port)
    connection.write("GET /healthz HTTP/1.1\r\nHost: te")
    await new Promise((resolve) => setTimeout(resolve, 50)) // let the bytes cross loopback
    service.signal("SIGTERM")
    const exited = await waitFor(service.exited, 9_000, "exit well before the deadline")
    expect(exited.code).toBe(0)
    await waitFor(connection.closed, 5_000, "socket close")
    const forced = service.lines.filter((line) =>
      line.message === "shutdown deadline exceeded: forcing exit" ||
      line.message === "deadline reached: interrupting requests still running" ||
      line.outcome === "cut"
    )
    expect(forced).toEqual([])
    expect(service.lines.find((line) => line.message === "shutdown complete")).toMatchObject({ exitCode: 0 })
  }, 60_000)
})

describe("admin listener", () => {
  const token = "s3cret-token"

  it("ADMIN_TOKEN set: 401 without or with a wrong token; 202 with it, then exit 0", async () => {
    const service = await spawnService({ ADMIN_TOKEN: token })
    const url = `http://127.0.0.1:${service.adminPort}/admin/shutdown`
    const missing = await fetch(url, { method: "POST" })
    expect(missing.status).toBe(401)
    expect(await missing.json()).toMatchObject({ error: "Unauthorized" })
    const wrong = await fetch(url, { method: "POST", headers: { authorization: "Bearer not-the-token" } })
    expect(wrong.status).toBe(401)
    const prefix = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${token}x` } })
    expect(prefix.status).toBe(401)
    expect(service.lines.some((line) => line.message === "shutdown")).toBe(false)
    const accepted = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${token}` } })
    expect(accepted.status).toBe(202)
    expect((await waitFor(service.exited, 5_000, "exit")).code).toBe(0)
    expect(service.lines.find((line) => line.message === "shutdown")).toMatchObject({ reason: "admin" })
  })

  it("wrong method -> 405 with Allow; unknown path -> 404; both JSON", async () => {
    const service = await spawnService()
    const wrongMethod = await fetch(`http://127.0.0.1:${service.adminPort}/admin/shutdown`)
    expect(wrongMethod.status).toBe(405)
    expect(wrongMethod.headers.get("allow")).toBe("POST, OPTIONS") // OPTIONS is answered too (issue 16)
    expect(await wrongMethod.json()).toMatchObject({ error: "MethodNotAllowed" })
    const unknown = await fetch(`http://127.0.0.1:${service.adminPort}/nope`)
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toMatchObject({ error: "NotFound" })
  })
})
