// GET /debug/shutdown counts the jobs this replica is running (WorkerPool contributes them to the
// drain book), before shutdown and while the jobs drain holds the exit.
import { describe, expect, it } from "vitest"
import { spawnService, waitFor } from "../support/spawnService.js"

const runningJobs = async (adminPort: number): Promise<{ phase: string; running: number }> => {
  const view = await (await fetch(`http://127.0.0.1:${adminPort}/debug/shutdown`)).json() as {
    phase: string
    holding: Record<string, Record<string, unknown>>
  }
  return { phase: view.phase, running: Number(view.holding.jobs?.running ?? 0) }
}

const until = (adminPort: number, holds: (view: { phase: string; running: number }) => boolean, what: string) =>
  waitFor(
    (async () => {
      for (;;) {
        const view = await runningJobs(adminPort)
        if (holds(view)) return view
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    })(),
    10_000,
    what
  )

describe("GET /debug/shutdown: jobs", () => {
  it("a running job is counted before shutdown and while the jobs drain waits for it", async () => {
    const service = await spawnService({ SHUTDOWN_TIMEOUT_MS: "4000" })
    const posted = await fetch(`http://127.0.0.1:${service.port}/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ms: 600_000, payload: null })
    })
    expect(posted.status).toBe(202)
    expect(await until(service.adminPort, (view) => view.running === 1, "the job running")).toEqual({ phase: "serving", running: 1 })

    service.signal("SIGTERM")
    const draining = await until(service.adminPort, (view) => view.phase === "jobs-drain", "the jobs drain")
    expect(draining.running).toBe(1)
    // The job is cut at the deadline and goes back to the queue: exit 124.
    expect((await waitFor(service.exited, 15_000, "the exit")).code).toBe(124)
  }, 30_000)
})
