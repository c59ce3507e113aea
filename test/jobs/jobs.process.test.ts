// No job is lost once 202 was sent, and none is recorded done twice: across a shutdown that cuts
// the queue short at its deadline and a restart on the same store, for both stores (SQLite in
// DATA_DIR, the default; Postgres with DATABASE_URL). And the pool's ownership, seen from outside.
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { describe, expect, it, onTestFinished, vi } from "vitest"
import { doneCounts, doneTwice, getJobs, metric, storeOpened, submitJobs, waitForDoneLines, waitUntil } from "../support/jobClients.js"
import { freshSchema, postgresUrl } from "../support/postgres.js"
import { spawnService, waitFor } from "../support/spawnService.js"

// Real child processes: a start alone has taken over 10 s on a loaded machine (test:stress).
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 })

// Made at collection time: freshSchema registers the schema's drop with afterAll, which only
// takes effect when called while the file is being collected.
const schema = postgresUrl === null ? null : await freshSchema()

const tempDataDir = async () => {
  const dir = await Fs.mkdtemp(Path.join(Os.tmpdir(), "jobs-e2e-"))
  onTestFinished(() => Fs.rm(dir, { recursive: true, force: true }))
  return dir
}

const stores = [
  { store: "sqlite", skip: false, env: async () => ({ DATA_DIR: await tempDataDir() }) },
  // DATA_DIR too: a service that ignored DATABASE_URL would fall back to SQLite there (and the
  // "job store opened" assertion below would say so) instead of writing into the repository.
  { store: "postgres", skip: schema === null, env: async () => ({ DATA_DIR: await tempDataDir(), DATABASE_URL: schema!.url }) }
] as const

describe("jobs in the real process", () => {
  for (const { env: storeEnv, skip, store } of stores) {
    // Catches: a job acknowledged but not committed (lost on restart), a job cut at the deadline
    // that is not put back at once (never done, or only after the lease), a job cut after its
    // completion was written that runs again (two "job done" lines), a restart that does not pick
    // up the hundreds of jobs still queued, a database closed twice or never.
    it.skipIf(skip)(`1,000 jobs accepted, SIGTERM mid-way with a short budget, restart: all done, none done twice (${store})`, async () => {
      // The lease is longer than this test may run: a job cut at the deadline must be released at
      // once, or the restart could not finish it in time (a lease-long wait would show as a timeout).
      const env = { ...(await storeEnv()), WORKERS: "4", JOB_QUEUE_SIZE: "2000", SHUTDOWN_TIMEOUT_MS: "300", JOB_LEASE_MS: "600000", LOG_LEVEL: "debug" }

      const first = await spawnService(env)
      expect(await storeOpened(first)).toBe(store)
      // Short jobs, and a long one (4 s) every 100th from n = 300 on: a shutdown lets running jobs
      // finish and leaves queued ones in the store, so only a job longer than the budget is cut.
      // The SIGTERM goes once 300 are done and a long job started less than 1.5 s ago is still
      // running (seconds left, however slow the machine): one starts about every 100 short jobs
      // from then on, so the signal lands mid-way, with hundreds of jobs still queued ("job
      // started" is a debug line, hence LOG_LEVEL).
      const isLong = (n: number) => n >= 300 && n % 100 === 0
      const ids = await submitJobs([first.port], 1_000, { ms: (n) => (isLong(n) ? 4_000 : 20), concurrency: 25 })
      expect(new Set(ids).size).toBe(1_000)
      const long = new Set(ids.filter((_, i) => isLong(i + 1)))
      await waitUntil("300 done and a long job that started less than 1.5 s ago", () => {
        if (doneCounts([first]).size < 300) return undefined
        const done = doneCounts([first])
        return first.lines.some((line) =>
            line.message === "job started" && long.has(String(line.jobId)) && !done.has(String(line.jobId)) &&
            Date.now() - Date.parse(String(line.timestamp)) < 1_500
          )
          ? true
          : undefined
      }, 90_000, 50)
      first.signal("SIGTERM")
      const firstExit = await waitFor(first.exited, 10_000, "first exit")
      // The deadline cut the queue short, as intended: jobs were still running and queued.
      expect(firstExit.code).toBe(124)
      const cut = first.lines.find((line) => line.message === "deadline reached: interrupting jobs; they go back to the queue")
      expect(cut).toBeDefined()
      const cutIds = cut!.running as Array<string>
      expect(cutIds.length).toBeGreaterThan(0)
      expect(cutIds.filter((id) => !long.has(id))).toEqual([])
      const doneInFirst = doneCounts([first]).size
      expect(doneInFirst).toBeLessThan(1_000)

      const second = await spawnService(env)
      await waitForDoneLines([first, second], ids, 90_000)
      // The store agrees with the logs: every acknowledged job reads `done`.
      const answers = await getJobs(second.port, ids)
      expect(answers.filter((answer) => answer.status !== 200 || answer.body.state !== "done")).toEqual([])
      second.signal("SIGTERM")
      expect((await waitFor(second.exited, 10_000, "second exit")).code).toBe(0)

      // The database closed once per run (the owner stops it exactly once), the cut run included.
      for (const run of [first, second]) expect(run.lines.filter((line) => line.message === "job store closed")).toHaveLength(1)
      // Counted after both exits, so a late duplicate from either run is seen.
      expect(doneTwice([first, second])).toEqual([])
      const counts = doneCounts([first, second])
      expect(ids.filter((id) => counts.get(id) !== 1)).toEqual([])
      expect(counts.size).toBe(1_000)
      const doneInSecond = doneCounts([second]).size
      expect(doneInSecond).toBe(1_000 - doneInFirst)
      // Mid-way for real: the restart took over a large share of the queue, not a tail.
      expect(doneInSecond, `done in the first run ${doneInFirst}, in the second ${doneInSecond}`).toBeGreaterThan(100)
      console.info(`1,000 jobs (${store}): ${doneInFirst} done before the SIGTERM, ${doneInSecond} after the restart, ${cutIds.length} cut`)
    }, 240_000)
  }

  // Catches: workers forked outside the registry or owned by someone else; a queue depth gauge
  // that never reaches 0 or is missing; the pool drained before the public server stopped taking
  // requests, or after the admin listener closed (the shutdown could not be observed).
  it("the workers are owned fibers, the queue is in /metrics; the pool drains after the public server and before the admin listener", async () => {
    const service = await spawnService({ DATA_DIR: await tempDataDir(), WORKERS: "3" })
    const listed = (await (await fetch(`http://127.0.0.1:${service.adminPort}/debug/fibers`)).json()) as {
      fibers: Array<{ name: string; owner: string }>
    }
    expect(listed.fibers.filter((fiber) => fiber.name.startsWith("jobs.worker/")).map((fiber) => `${fiber.owner}:${fiber.name}`).sort())
      .toEqual(["jobs:jobs.worker/1", "jobs:jobs.worker/2", "jobs:jobs.worker/3"])
    const [id] = await submitJobs([service.port], 1, { ms: 20, concurrency: 1 })
    await waitForDoneLines([service], [id!], 10_000)
    // The gauge is the store's count of unfinished jobs, refreshed about every second.
    await waitUntil("jobs_queue_depth 0", async () => ((await metric(service, "jobs_queue_depth")) === 0 ? true : undefined), 10_000)
    expect(await metric(service, "jobs_total", { state: "done" })).toBe(1)
    expect(await metric(service, "jobs_total", { state: "queued" })).toBe(1)
    service.signal("SIGTERM")
    expect((await waitFor(service.exited, 10_000, "exit")).code).toBe(0)
    const phases = service.lines.filter((line) => line.message === "shutdown phase").map((line) => `${line.phase}/${line.server ?? ""}`)
    const at = (phase: string) => phases.indexOf(phase)
    const order = [at("drain/public"), at("jobs-drain/"), at("jobs-stop/"), at("close-listener/admin")]
    expect(order.every((index) => index >= 0), `phases seen: ${phases.join(", ")}`).toBe(true)
    expect(order).toEqual([...order].sort((a, b) => a - b))
  }, 90_000)
})
