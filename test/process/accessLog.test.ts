// The access log and LOG_REQUESTS on the real process: an invalid value refuses to start with the
// one config-error line; LOG_REQUESTS=true writes one info line per request on both ports, whose
// traceId is the response's x-trace-id.
import { describe, expect, it } from "vitest"
import { spawnService, waitFor } from "../support/spawnService.js"

describe("access log (process)", () => {
  it("LOG_REQUESTS=maybe -> exit 1 and one JSON line naming it", async () => {
    const service = await spawnService({ LOG_REQUESTS: "maybe" }, { waitForListening: false })
    expect((await waitFor(service.exited, 5_000, "exit")).code).toBe(1)
    expect(service.lines).toHaveLength(1)
    expect(service.lines[0]).toMatchObject({ level: "error", variables: ["LOG_REQUESTS"] })
    expect(service.lines[0]!.message).toContain("LOG_REQUESTS: expected true or false, got \"maybe\"")
  })

  it("LOG_REQUESTS=true: one info line per request, public and admin, with the response's trace id", async () => {
    const service = await spawnService({ LOG_REQUESTS: "true" })
    const publicResponse = await fetch(`http://127.0.0.1:${service.port}/sleep?ms=1`)
    await publicResponse.text()
    const adminResponse = await fetch(`http://127.0.0.1:${service.adminPort}/debug/fibers`)
    await adminResponse.text()
    const publicLine = await service.waitForLine((line) => line.message === "request" && line.server === "public")
    const adminLine = await service.waitForLine((line) => line.message === "request" && line.server === "admin")
    expect(publicLine).toMatchObject({
      level: "info",
      method: "GET",
      route: "/sleep",
      status: publicResponse.status,
      traceId: publicResponse.headers.get("x-trace-id")
    })
    expect(publicLine.spanId).toMatch(/^[0-9a-f]{16}$/)
    expect(publicLine.durationMs).toBeTypeOf("number")
    expect(adminLine).toMatchObject({ level: "info", method: "GET", route: "/debug/fibers", status: 200, traceId: adminResponse.headers.get("x-trace-id") })
    expect(service.lines.filter((line) => line.message === "request")).toHaveLength(2)
  })
})
