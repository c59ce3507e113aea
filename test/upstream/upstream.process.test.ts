// Shutdown during a slow upstream call: the call is cut at the deadline, not after it.
import { describe, expect, it, vi } from "vitest"
import { startUpstream } from "./fakeUpstream.js"
import { spawnService, waitFor } from "../support/spawnService.js"

// Real child processes: a start alone has taken over 10 s on a loaded machine (test:stress).
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 })

describe("GET /upstream during shutdown", () => {
  it("a slow upstream call is interrupted at the deadline: the client gets 503 and the upstream socket closes then", async () => {
    const fake = await startUpstream()
    fake.script.push("hang")
    const service = await spawnService({ UPSTREAM_URL: fake.url, UPSTREAM_TIMEOUT_MS: "20000", SHUTDOWN_TIMEOUT_MS: "1000" })
    const pending = fetch(`http://127.0.0.1:${service.port}/upstream`)
    while (fake.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5)) // the upstream's record is the event
    const sent = service.signal("SIGTERM")
    const response = await pending
    expect(response.status).toBe(503)
    expect(await response.json()).toMatchObject({ error: "ShuttingDown" })
    const exited = await waitFor(service.exited, 8_000, "exit")
    expect(exited.code).toBe(124)
    const closedAt = fake.requests[0]!.closedAt
    expect(closedAt).toBeDefined()
    expect(closedAt! - sent).toBeGreaterThanOrEqual(950)
    expect(closedAt! - sent).toBeLessThan(5_000) // at the 1 s deadline, not the 20 s attempt timeout (loose: a loaded machine is slow)
    expect(service.lines.some((line) => line.message === "upstream call interrupted")).toBe(true)
  }, 60_000)

  it("an upstream that hangs past REQUEST_TIMEOUT_MS: each request gets 503 at its own timeout, and the breaker opens", async () => {
    const fake = await startUpstream()
    fake.script.push("hang", "hang", "hang")
    const service = await spawnService({
      UPSTREAM_URL: fake.url,
      UPSTREAM_TIMEOUT_MS: "8000", // longer than the request's own timeout: only the caller giving up can count
      REQUEST_TIMEOUT_MS: "1000",
      BREAKER_FAILURES: "2"
    })
    for (let i = 0; i < 2; i++) {
      const response = await fetch(`http://127.0.0.1:${service.port}/upstream`)
      expect(response.status).toBe(503)
      expect(await response.json()).toMatchObject({ error: "RequestTimeout" })
    }
    const refused = await fetch(`http://127.0.0.1:${service.port}/upstream`)
    expect(refused.status).toBe(503)
    expect(await refused.json()).toMatchObject({ error: "CircuitOpen" })
    expect(fake.requests).toHaveLength(2) // refused without calling the upstream
    service.signal("SIGTERM")
    expect((await waitFor(service.exited, 10_000, "exit")).code).toBe(0)
  }, 60_000)
})
