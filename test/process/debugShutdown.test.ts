// GET /debug/shutdown on the real process: before shutdown it says "serving"; during a drain held
// by a slow request it names the phase, the reason, a budget left that goes down, and the request
// under its route template. Every wait is for a condition the view reports, never a sleep.
import { describe, expect, it } from "vitest"
import type { ShutdownView } from "../../src/lifecycle/DrainView.js"
import { spawnService, waitFor } from "../support/spawnService.js"

const TOKEN = "drain-view-token"
const BUDGET_MS = 6_000

type View = ShutdownView

const readView = async (adminPort: number): Promise<View> => {
  const response = await fetch(`http://127.0.0.1:${adminPort}/debug/shutdown`, { headers: { authorization: `Bearer ${TOKEN}` } })
  expect(response.status).toBe(200)
  return await response.json() as View
}

/** Polls the view until `until` holds (each poll is a request: no fixed sleep, only the round trip). */
const viewWhen = (adminPort: number, until: (view: View) => boolean, what: string, timeoutMs = 10_000) =>
  waitFor(
    (async () => {
      for (;;) {
        const view = await readView(adminPort)
        if (until(view)) return view
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    })(),
    timeoutMs,
    what
  )

const sleepRequests = (view: View) => (view.holding["http.public"]?.requests as Record<string, number> | undefined)?.["/sleep"] ?? 0

describe("GET /debug/shutdown", () => {
  it("serving before shutdown; during a drain: the phase, the reason, budget left decreasing, the slow request by route", async () => {
    const service = await spawnService({ ADMIN_TOKEN: TOKEN, SHUTDOWN_TIMEOUT_MS: String(BUDGET_MS) })
    const unauthorized = await fetch(`http://127.0.0.1:${service.adminPort}/debug/shutdown`)
    expect(unauthorized.status).toBe(401)

    // Slow in-flight work, cut at the deadline (the process then exits 124).
    const slow = fetch(`http://127.0.0.1:${service.port}/sleep?ms=600000`).then((response) => response.status, () => 0)
    const before = await viewWhen(service.adminPort, (view) => sleepRequests(view) === 1, "the slow request in flight")
    expect(before).toMatchObject({ phase: "serving", reason: null, elapsedMs: 0, budgetMs: BUDGET_MS, budgetLeftMs: BUDGET_MS })
    expect(before.fibers.some((fiber) => fiber.owner === "http.public" && fiber.name === "GET /sleep")).toBe(true)

    service.signal("SIGTERM")
    const draining = await viewWhen(service.adminPort, (view) => view.phase === "drain", "the drain phase")
    expect(draining.reason).toBe("SIGTERM")
    expect(draining.runningPhases).toContain("drain")
    expect(draining.budgetLeftMs).toBeLessThan(BUDGET_MS)
    expect(draining.budgetLeftMs + draining.elapsedMs).toBe(BUDGET_MS)
    expect(sleepRequests(draining)).toBe(1)
    // The budget goes down while the request holds the drain.
    const later = await viewWhen(service.adminPort, (view) => view.budgetLeftMs < draining.budgetLeftMs, "less budget left")
    expect(later.phase).toBe("drain")
    expect(sleepRequests(later)).toBe(1)
    expect(later.elapsedMs).toBeGreaterThan(draining.elapsedMs)

    // At the deadline the request is cut (503) and the process exits 124.
    expect(await waitFor(slow, BUDGET_MS + 10_000, "the slow request's answer")).toBe(503)
    expect((await waitFor(service.exited, 10_000, "the exit")).code).toBe(124)
  }, 30_000)
})
