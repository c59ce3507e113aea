// /metrics and tracing as an operator and a client see them, against the real process.
import { describe, expect, it } from "vitest"
import { CORE_CLIENT_ERROR_KINDS, CORE_SHUTDOWN_PHASES } from "../../src/observability/CoreMetrics.js"
import { declaredMetrics } from "../observability/declaredMetrics.js"
import { parsePrometheus, valueOf } from "../support/parsePrometheus.js"
import { spawnService, waitFor } from "../support/spawnService.js"

describe("observability", () => {
  it("/metrics is valid Prometheus text with the contract's series; routes are templates", async () => {
    const service = await spawnService()
    const base = `http://127.0.0.1:${service.port}`
    const n = 5
    for (let i = 0; i < n; i++) await (await fetch(`${base}/sleep?ms=${i}`)).text()
    await (await fetch(`${base}/sleep?ms=abc`)).text()
    const response = await fetch(`http://127.0.0.1:${service.adminPort}/metrics`)
    expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8")
    const families = parsePrometheus(await response.text())
    for (
      const name of [
        "http_requests_total",
        "http_request_duration_seconds",
        "http_requests_in_flight",
        "fibers_owned",
        "process_resident_memory_bytes",
        "nodejs_eventloop_lag_seconds"
      ]
    ) expect(families.has(name), name).toBe(true)
    expect(valueOf(families, "http_requests_total", { method: "GET", route: "/sleep", status: "200" })).toBe(n)
    expect(valueOf(families, "http_requests_total", { method: "GET", route: "/sleep", status: "400" })).toBe(1)
    expect(valueOf(families, "http_request_duration_seconds_count", { route: "/sleep" })).toBe(n + 1)
    expect(valueOf(families, "fibers_owned")).toBeGreaterThanOrEqual(3) // the sampler and two server watchers
    expect(valueOf(families, "process_resident_memory_bytes")).toBeGreaterThan(10_000_000)
  })

  it("the first scrape, right after listening, has every family the service declares, with its type, at 0", async () => {
    const declared = declaredMetrics("src")
    const service = await spawnService()
    const scrape = async () => parsePrometheus(await (await fetch(`http://127.0.0.1:${service.adminPort}/metrics`)).text())
    const first = await scrape()
    for (const { file, name, type } of declared) expect(first.get(name)?.type, `${name} (${file})`).toBe(type)
    // Nothing has happened yet: every counter and histogram series is 0 (the scrape itself is
    // counted once it has been answered), and so is every gauge of something not yet begun.
    for (const family of first.values()) {
      if (family.type !== "counter" && family.type !== "histogram") continue
      for (const sample of family.samples) expect(sample.value, `${sample.name} ${JSON.stringify(sample.labels)}`).toBe(0)
    }
    const phases = first.get("shutdown_phase_duration_seconds")!.samples
    expect(phases.map((sample) => sample.labels["phase"]).sort()).toEqual([...CORE_SHUTDOWN_PHASES].sort())
    expect(phases.every((sample) => sample.value === 0)).toBe(true)
    // The client-error kinds registered up front are the ones really counted.
    const kinds = first.get("client_errors_total")!.samples.map((sample) => sample.labels["kind"])
    expect(kinds.sort()).toEqual([...CORE_CLIENT_ERROR_KINDS].sort())
    await (await fetch(`http://127.0.0.1:${service.port}/sleep?ms=abc`)).text()
    await (await fetch(`http://127.0.0.1:${service.port}/no-such-route`)).text()
    const second = await scrape()
    expect(valueOf(second, "client_errors_total", { kind: "http bad request" })).toBe(1)
    expect(valueOf(second, "client_errors_total", { kind: "http not found" })).toBe(1)
    expect(second.get("client_errors_total")!.samples).toHaveLength(CORE_CLIENT_ERROR_KINDS.length)
  })

  it("an incoming traceparent is continued: the response and the request's log lines carry its trace id", async () => {
    const service = await spawnService({ SHUTDOWN_TIMEOUT_MS: "300" })
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
    const connection = fetch(`http://127.0.0.1:${service.port}/sleep?ms=5000`, {
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` }
    })
    // The sleep is cut at the shutdown deadline; its handler logs "sleep interrupted" inside the request.
    const deadline = performance.now() + 2_000
    while (performance.now() < deadline) {
      const fibers = await (await fetch(`http://127.0.0.1:${service.adminPort}/debug/fibers`)).json() as { fibers: Array<{ name: string }> }
      if (fibers.fibers.some((fiber) => fiber.name === "GET /sleep")) break
    }
    service.signal("SIGTERM")
    const response = await connection
    expect(response.status).toBe(503)
    expect(response.headers.get("x-trace-id")).toBe(traceId)
    await waitFor(service.exited, 3_000, "exit")
    const inside = service.lines.find((line) => line.message === "sleep interrupted")
    expect(inside).toMatchObject({ traceId, spanId: expect.stringMatching(/^[0-9a-f]{16}$/) })
    expect(inside!.spanId).not.toBe("00f067aa0ba902b7") // a child span of the caller's, not the caller's own
  })

  it("without a traceparent each request starts its own trace, returned as x-trace-id", async () => {
    const service = await spawnService()
    const first = await fetch(`http://127.0.0.1:${service.port}/healthz`)
    const second = await fetch(`http://127.0.0.1:${service.port}/healthz`)
    expect(first.headers.get("x-trace-id")).toMatch(/^[0-9a-f]{32}$/)
    expect(second.headers.get("x-trace-id")).toMatch(/^[0-9a-f]{32}$/)
    expect(first.headers.get("x-trace-id")).not.toBe(second.headers.get("x-trace-id"))
  })

  it("shutdown phases are logged with their durations", async () => {
    const service = await spawnService({ DRAIN_DELAY_MS: "50" })
    service.signal("SIGTERM")
    await waitFor(service.exited, 3_000, "exit")
    const phases = service.lines.filter((line) => line.message === "shutdown phase")
    // The core's phases, in order; features add their own in between (their tests check where).
    const core = new Set<string>(CORE_SHUTDOWN_PHASES)
    expect(phases.filter((line) => core.has(String(line.phase))).map((line) => [line.phase, line.server ?? null])).toEqual([
      ["drain-delay", "public"],
      ["close-listener", "public"],
      ["drain", "public"],
      ["close-listener", "admin"],
      ["drain", "admin"],
      ["release", null]
    ])
    for (const line of phases) expect(line).toMatchObject({ durationMs: expect.any(Number), elapsedMs: expect.any(Number), outcome: "done" })
    expect(phases[0]!.durationMs).toBeGreaterThanOrEqual(49)
  })
})
