// Credentials inside UPSTREAM_URL are used, and appear in no log line, even when the call fails
// and its error (which names the request URL) is logged.
import { describe, expect, it, vi } from "vitest"
import { spawnService, waitFor } from "../support/spawnService.js"

// Real child processes: a start alone has taken over 10 s on a loaded machine (test:stress).
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 })

const SECRET = "s3cr3t"

describe("UPSTREAM_URL credentials", () => {
  it("a failing call logs its failure, never the password", async () => {
    const service = await spawnService({
      // Nothing listens on port 1: /upstream fails (503) and its failure is logged.
      UPSTREAM_URL: `http://user:${SECRET}@127.0.0.1:1/`,
      UPSTREAM_RETRIES: "0",
      LOG_LEVEL: "debug"
    })
    expect((await fetch(`http://127.0.0.1:${service.port}/upstream`)).status).toBe(503)
    service.signal("SIGTERM")
    expect((await waitFor(service.exited, 5_000, "exit")).code).toBe(0)
    expect(service.lines.length).toBeGreaterThan(3)
    expect(JSON.stringify(service.lines) + service.stderr()).not.toContain(SECRET)
  })
})
