// DATABASE_URL is a secret: its password is in no line the service writes, whether the database
// answers or not (the driver's errors name the host, never the URL).
import { describe, expect, it, vi } from "vitest"
import { freshSchema, postgresUrl } from "../support/postgres.js"
import { type Service, spawnService, waitFor } from "../support/spawnService.js"

// Real child processes: a start alone has taken over 10 s on a loaded machine (test:stress).
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 })

const SECRET = "s3cr3t-db"

const everything = (service: Service) => JSON.stringify(service.lines) + service.stderr()

describe("DATABASE_URL's password", () => {
  // Also the contract for a store unreachable at startup (README "When the store fails"): the
  // service exits 1 (the orchestrator restarts it until the database answers) and its last error
  // says which store could not be opened and the driver's reason; it never says "job store closed"
  // about a store it never opened.
  it("a database that refuses the connection: exit 1, startup failure logged with the reason, the password in no line", async () => {
    const service = await spawnService({ DATABASE_URL: `postgres://jobs:${SECRET}@127.0.0.1:1/jobs` }, { waitForListening: false })
    expect((await waitFor(service.exited, 15_000, "exit")).code).toBe(1)
    const failed = service.lines.find((line) => line.message === "startup failed")
    expect(String(failed?.cause)).toMatch(/^JobDatabaseError: the postgres job store could not be opened: .*ECONNREFUSED 127\.0\.0\.1:1/)
    expect(service.lines.filter((line) => line.message === "job store closed")).toEqual([])
    expect(everything(service)).not.toContain(SECRET)
  }, 60_000)

  it.skipIf(postgresUrl === null)("a database that answers: jobs run on it, and the password is in no line through shutdown", async () => {
    const url = new URL((await freshSchema()).url)
    url.password = SECRET // trust authentication ignores it; the service still holds it
    const service = await spawnService({ DATABASE_URL: url.toString(), LOG_LEVEL: "debug" })
    expect(service.lines.find((line) => line.message === "job store opened")).toMatchObject({ store: "postgres" })
    const response = await fetch(`http://127.0.0.1:${service.port}/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ms: 1 })
    })
    expect(response.status).toBe(202)
    const { id } = (await response.json()) as { id: string }
    await service.waitForLine((line) => line.message === "job done" && line.jobId === id, 10_000)
    service.signal("SIGTERM")
    expect((await waitFor(service.exited, 10_000, "exit")).code).toBe(0)
    expect(everything(service)).not.toContain(SECRET)
  }, 90_000)
})
