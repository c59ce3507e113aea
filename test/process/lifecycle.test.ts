// The process contract of the foundation: real child process, real signals, real exit codes.
import { describe, expect, it, vi } from "vitest"
import { spawnService, waitFor } from "../support/spawnService.js"

// Real child processes: a start alone has taken over 10 s on a loaded machine (test:stress).
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 })

describe("process lifecycle", () => {
  it("SIGTERM -> a shutdown line with its reason, exit 0", async () => {
    const service = await spawnService()
    service.signal("SIGTERM")
    const exited = await waitFor(service.exited, 10_000, "exit")
    expect(exited.code).toBe(0)
    expect(service.lines.find((line) => line.message === "shutdown")).toMatchObject({ reason: "SIGTERM", level: "info" })
    expect(service.lines.at(-1)).toMatchObject({ message: "shutdown complete", exitCode: 0 })
    expect(service.stderr()).toBe("")
  })

  it("PORT=0 / ADMIN_PORT=0 -> the listening line reports the real, reachable ports", async () => {
    const service = await spawnService({ PORT: "0", ADMIN_PORT: "0" })
    expect(service.port).toBeGreaterThan(0)
    expect(service.adminPort).toBeGreaterThan(0)
    expect(service.port).not.toBe(service.adminPort)
    const health = await fetch(`http://127.0.0.1:${service.port}/healthz`)
    expect(await health.json()).toEqual({ status: "ok" })
    const admin = await fetch(`http://127.0.0.1:${service.adminPort}/debug/fibers`)
    expect(admin.status).toBe(200)
    for (const line of service.lines) {
      expect(line).toEqual(expect.objectContaining({ timestamp: expect.any(String), level: expect.any(String), service: "owned-service", fiber: expect.stringMatching(/^#\d+$/) }))
    }
  })

  it.each([
    ["PORT", "abc", "an integer between 0 and 65535"],
    ["SHUTDOWN_TIMEOUT_MS", "-1", "an integer between 1 and 3600000"],
    ["LOG_LEVEL", "verbose", "one of debug, info, warn, error"]
  ])("invalid %s=%s -> exit 1 and one JSON line naming it", async (variable, value, expected) => {
    const service = await spawnService({ [variable]: value }, { waitForListening: false })
    const exited = await waitFor(service.exited, 10_000, "exit")
    expect(exited.code).toBe(1)
    expect(service.lines).toHaveLength(1)
    const [line] = service.lines
    expect(line).toMatchObject({ level: "error", variables: [variable] })
    expect(line!.message).toContain(variable)
    expect(line!.message).toContain(expected)
    expect(line!.message).toContain(JSON.stringify(value))
    expect(JSON.stringify(line)).not.toMatch(/\n\s+at /) // no stack trace
    expect(service.stderr()).toBe("")
  })

  it("a port already in use -> startup failure, exit 1, the error logged", async () => {
    const first = await spawnService()
    const second = await spawnService({ PORT: String(first.port) }, { waitForListening: false })
    const exited = await waitFor(second.exited, 30_000, "exit") // a whole start first: slow on a loaded machine
    expect(exited.code).toBe(1)
    expect(second.lines.find((line) => line.message === "startup failed")?.cause).toContain("EADDRINUSE")
  })

  it("SIGINT twice with a hanging finalizer -> forced out at once with 130, naming what ran", async () => {
    const service = await spawnService({ DEBUG_HANG_ON_SHUTDOWN: "true", SHUTDOWN_TIMEOUT_MS: "20000" })
    service.signal("SIGINT")
    await service.waitForLine((line) => line.message === "debug finalizer hanging")
    const second = service.signal("SIGINT")
    const exited = await waitFor(service.exited, 8_000, "exit")
    expect(exited.code).toBe(130)
    expect(exited.at - second).toBeLessThan(5_000) // "at once": not the 20 s budget
    const forced = service.lines.find((line) => line.message === "forced exit: second signal")
    expect(forced).toMatchObject({ signal: "SIGINT", exitCode: 130, finalizersSkipped: true })
    expect(forced).toHaveProperty("running")
  })

  it("SIGTERM then SIGTERM -> 143", async () => {
    const service = await spawnService({ DEBUG_HANG_ON_SHUTDOWN: "true", SHUTDOWN_TIMEOUT_MS: "20000" })
    service.signal("SIGTERM")
    await service.waitForLine((line) => line.message === "debug finalizer hanging")
    service.signal("SIGTERM")
    expect((await waitFor(service.exited, 8_000, "exit")).code).toBe(143)
  })

  // The finalizer hangs forever: any exit proves the deadline; "before budget + 3 s" proves it is
  // the budget's, with room for a loaded machine.
  it("a finalizer that hangs past the budget -> exit 124 after the budget, before budget + 3 s", async () => {
    const service = await spawnService({ DEBUG_HANG_ON_SHUTDOWN: "true", SHUTDOWN_TIMEOUT_MS: "1000" })
    const sent = service.signal("SIGTERM")
    const exited = await waitFor(service.exited, 8_000, "exit")
    expect(exited.code).toBe(124)
    expect(exited.at - sent).toBeGreaterThanOrEqual(1_000)
    expect(exited.at - sent).toBeLessThan(4_000)
    expect(service.lines.find((line) => line.message === "shutdown deadline exceeded: forcing exit")).toMatchObject({
      finalizersSkipped: true,
      running: expect.arrayContaining([expect.objectContaining({ name: "root scope release" })])
    })
  })

  it("admin shutdown -> 202, reason admin, exit 0", async () => {
    const service = await spawnService()
    const response = await fetch(`http://127.0.0.1:${service.adminPort}/admin/shutdown`, { method: "POST" })
    expect(response.status).toBe(202)
    expect((await waitFor(service.exited, 10_000, "exit")).code).toBe(0)
    expect(service.lines.find((line) => line.message === "shutdown")).toMatchObject({ reason: "admin" })
  })
})
