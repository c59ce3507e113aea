// A fleet: two replicas of the real service (node dist/main.js) on one Postgres schema. A replica
// that dies leaves its claimed jobs to the other once the lease runs out; one that shuts down
// gracefully hands its interrupted jobs back at once; the queue bound is the fleet's, not a
// replica's. Each test gets its own schema, so no test sees another's jobs.
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { describe, expect, it, onTestFinished, vi } from "vitest"
import { doneCounts, doneTwice, getJobs, metric, postJob, storeOpened, submitJobs, waitForDoneLines, waitForStates, waitUntil } from "../support/jobClients.js"
import { freshSchema, postgresUrl, query } from "../support/postgres.js"
import { spawnService, waitFor } from "../support/spawnService.js"

// Real child processes: a start alone has taken over 10 s on a loaded machine (test:stress).
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 })

// Made at collection time: freshSchema registers the schema's drop with afterAll, which only
// takes effect when called while the file is being collected.
const schemas = postgresUrl === null ? null : { killed: await freshSchema(), graceful: await freshSchema(), bound: await freshSchema() }

/** The replicas' shared settings. DATA_DIR is a temp dir: a replica that ignored DATABASE_URL
 * would fall back to SQLite there, and the "job store opened" check names it. */
const fleetEnv = async (url: string, env: Record<string, string>) => {
  const dataDir = await Fs.mkdtemp(Path.join(Os.tmpdir(), "jobs-fleet-"))
  onTestFinished(() => Fs.rm(dataDir, { recursive: true, force: true }))
  return { DATABASE_URL: url, DATA_DIR: dataDir, ...env }
}

const startReplica = async (env: Record<string, string>) => {
  const replica = await spawnService(env)
  expect(await storeOpened(replica)).toBe("postgres")
  return replica
}

describe.skipIf(schemas === null)("two replicas on one Postgres queue", () => {
  // Catches: a lease that never expires or is never refreshed-then-expired (A's claimed jobs stay
  // stuck: acknowledged but never done), a completion not fenced on the claiming worker (a job
  // recorded done twice), a GET that reads one replica's memory instead of the store.
  it("SIGKILL one replica while it runs jobs: the other finishes every acknowledged job once the lease expires", async () => {
    const { url } = schemas!.killed
    const env = await fleetEnv(url, { WORKERS: "2", JOB_LEASE_MS: "2000", SHUTDOWN_TIMEOUT_MS: "5000" })
    // A logs "job started" (a debug line) the moment a worker holds a claim; B need not.
    const a = await startReplica({ ...env, LOG_LEVEL: "debug" })
    const b = await startReplica(env)
    const ids = await submitJobs([a.port, b.port], 40, { ms: 600, concurrency: 4 })
    // Kill A while a worker of its holds a claim: right after a "job started", with 600 ms before
    // that job can end. (Waiting for "job done" instead could land the kill between a job's end
    // and the next claim, with nothing held: the check below then failed under load.)
    await a.waitForLine((line) => line.message === "job started", 15_000)
    a.signal("SIGKILL")
    await waitFor(a.exited, 5_000, "A killed")
    // What A held when it died, read from the store before any lease can have run out.
    const [{ killedAt }] = await query<{ killedAt: string }>(url, `SELECT now()::text AS "killedAt"`) as [{ killedAt: string }]
    const held = await query<{ id: string; by: string }>(
      url,
      `SELECT id, acquired_by::text AS by FROM effect_queue WHERE completed = FALSE AND acquired_by IS NOT NULL`
    )
    // B's worker id: the one claiming (or refreshing) after A died. A's rows are the others.
    const bWorker = await waitUntil("B claiming after the kill", async () => {
      const rows = await query<{ by: string }>(
        url,
        `SELECT DISTINCT acquired_by::text AS by FROM effect_queue WHERE acquired_by IS NOT NULL AND acquired_at > $1::timestamptz`,
        [killedAt]
      )
      return rows.length === 1 ? rows[0]!.by : undefined
    }, 10_000, 50)
    const orphans = held.filter((row) => row.by !== bWorker).map((row) => row.id)
    // A held jobs when it died: otherwise this test proved nothing about the lease.
    expect(orphans.length).toBeGreaterThan(0)

    await waitForStates(b.port, ids, "done", 30_000)
    const answers = await getJobs(b.port, ids)
    expect(answers.filter((answer) => answer.body.state !== "done")).toEqual([])
    expect(doneTwice([a, b])).toEqual([])
    // B ran what A had claimed (the lease ran out); A never logged them done.
    const doneByA = doneCounts([a])
    const doneByB = doneCounts([b])
    expect(orphans.filter((id) => doneByA.has(id))).toEqual([])
    expect(orphans.filter((id) => doneByB.has(id)).length).toBeGreaterThan(0)
    b.signal("SIGTERM")
    expect((await waitFor(b.exited, 10_000, "B exit")).code).toBe(0)
    expect(doneTwice([a, b])).toEqual([])
  }, 180_000)

  // Catches: jobs cut at the deadline left claimed (the other replica waits out the 60 s lease:
  // this test then times out), or marked failed / counted as an attempt, or done twice.
  it("SIGTERM one replica with a short budget while it runs long jobs: the other takes them at once, not after the lease", async () => {
    const { url } = schemas!.graceful
    // The lease is far longer than this test may run: only the release at the deadline can free the jobs.
    const env = await fleetEnv(url, { WORKERS: "2", JOB_LEASE_MS: "60000", SHUTDOWN_TIMEOUT_MS: "300" })
    const a = await startReplica(env)
    // 15 s jobs: B's start (seconds on a loaded machine) must not outlast them, or A has nothing to cut.
    const ids = await submitJobs([a.port], 2, { ms: 15_000, concurrency: 2 })
    await waitForStates(a.port, ids, "running", 10_000)
    // B starts once A holds both jobs: there is nothing else for it to take.
    const b = await startReplica(env)
    a.signal("SIGTERM")
    expect((await waitFor(a.exited, 10_000, "A exit")).code).toBe(124)
    const cut = a.lines.find((line) => line.message === "deadline reached: interrupting jobs; they go back to the queue")
    expect([...(cut?.running as Array<string>)].sort()).toEqual([...ids].sort())

    // 15 s of work plus B's next poll; well below the 60 s lease.
    await waitForDoneLines([b], ids, 40_000)
    const answers = await getJobs(b.port, ids)
    expect(answers.map((answer) => [answer.status, answer.body.state, answer.body.error])).toEqual(ids.map(() => [200, "done", undefined]))
    const counts = doneCounts([a, b])
    expect(ids.map((id) => counts.get(id))).toEqual([1, 1])
    b.signal("SIGTERM")
    expect((await waitFor(b.exited, 10_000, "B exit")).code).toBe(0)
  }, 120_000)

  // Catches: a bound kept in each replica's memory (each would accept JOB_QUEUE_SIZE: 10 in all),
  // a 429 without Retry-After, a queue depth gauge that counts one replica's jobs only.
  it("429 at the bound, counted across replicas", async () => {
    const { url } = schemas!.bound
    const env = await fleetEnv(url, { WORKERS: "1", JOB_QUEUE_SIZE: "5", JOB_LEASE_MS: "60000" })
    const a = await startReplica(env)
    const b = await startReplica(env)
    const replicas = [a, b]
    const answers: Array<{ replica: string; status: number; retryAfter: string | null; error: unknown }> = []
    // One at a time, alternating: each POST sees every job accepted before it, on either replica.
    for (let n = 0; n < 10; n++) {
      const answer = await postJob(replicas[n % 2]!.port, { ms: 30_000, payload: { n } })
      answers.push({ replica: n % 2 === 0 ? "A" : "B", status: answer.status, retryAfter: answer.retryAfter, error: answer.body.error })
    }
    expect(answers.slice(0, 5).map((answer) => answer.status)).toEqual([202, 202, 202, 202, 202])
    const refused = answers.slice(5)
    expect(refused.map((answer) => [answer.replica, answer.status, answer.error])).toEqual([
      ["B", 429, "QueueFull"],
      ["A", 429, "QueueFull"],
      ["B", 429, "QueueFull"],
      ["A", 429, "QueueFull"],
      ["B", 429, "QueueFull"]
    ])
    expect(refused.every((answer) => Number(answer.retryAfter) > 0)).toBe(true)
    // Both gauges count the fleet's unfinished jobs (1 running on each, 3 queued).
    await waitUntil("jobs_queue_depth 5 on both replicas", async () => {
      const depths = await Promise.all(replicas.map((replica) => metric(replica, "jobs_queue_depth")))
      return depths.every((depth) => depth === 5) ? true : undefined
    }, 10_000)
  }, 90_000)
})
