// The pool on the durable queue, on both databases: stopped once, by its owner, after its users;
// a job cut at the deadline goes back at once; a live replica keeps the jobs it runs.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Option } from "effect"
import { QUEUE_TABLE } from "../../src/jobs/JobMigrations.js"
import { ShutdownReason } from "../../src/lifecycle/ShutdownReason.js"
import { captureLogs, type LogLine } from "../support/captureLogs.js"
import { leakCheck } from "../support/LeakCheck.js"
import { awaitRunning, awaitState, freshStore, startPool, startStore, storeKinds } from "./jobStores.js"

const doneLines = (lines: ReadonlyArray<LogLine>, id: string) => lines.filter((line) => line.message === "job done" && line.jobId === id)

describe.each(storeKinds)("WorkerPool on $name", (kind) => {
  it.live("shutdown: the pool stops taking, running jobs finish before the store closes (each done once), queued ones stay queued", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const where = yield* freshStore(kind)
      const { pool, stop } = yield* startPool({ store: where, config: { WORKERS: "2" } })
      const running = yield* Effect.forEach([300, 400], (ms) => pool.submit({ ms, payload: null }))
      yield* Effect.forEach(running, (id) => awaitRunning(pool, id))
      const queued = yield* pool.submit({ ms: 1, payload: null })
      yield* stop
      const messages = logs.lines.map((line) => line.message)
      expect(messages.lastIndexOf("job done")).toBeLessThan(messages.indexOf("job store closed"))
      for (const id of running) expect(doneLines(logs.lines, id)).toHaveLength(1)
      expect(doneLines(logs.lines, queued)).toEqual([])
      const reader = yield* startStore({ store: where })
      expect(Option.getOrThrow(yield* reader.store.get(queued)).state).toBe("queued")
      yield* reader.stop
    }).pipe(Effect.provide(logs.layer)))
  }, 20_000)

  it.live("a full queue refuses with QueueFull at once; a shutdown that began still accepts (drain delay); a stopped pool refuses with PoolClosed", () =>
    leakCheck(Effect.gen(function*() {
      const { pool, shutdown, stop } = yield* startPool({ store: yield* freshStore(kind), config: { JOB_QUEUE_SIZE: "2" } })
      yield* pool.submit({ ms: 2_000, payload: null })
      const full = yield* Effect.either(pool.submit({ ms: 1, payload: null }).pipe(Effect.zipRight(pool.submit({ ms: 1, payload: null }))))
      expect(Either.isLeft(full) && full.left._tag).toBe("QueueFull")
      yield* shutdown.trigger(ShutdownReason.Admin())
      // Until the pool stops (after the public server drained) a job is still taken: a balancer
      // that has not seen /readyz fail yet still sends them, and nothing about them is refused.
      const duringDelay = yield* Effect.either(pool.submit({ ms: 1, payload: null }))
      expect(Either.isLeft(duringDelay) && duringDelay.left._tag).toBe("QueueFull")
      yield* stop
      const closed = yield* Effect.either(pool.submit({ ms: 1, payload: null }))
      expect(Either.isLeft(closed) && closed.left._tag).toBe("PoolClosed")
    }).pipe(Effect.provide(captureLogs().layer))), 20_000)

  it.live("a job submitted after shutdown began, before the pool stopped, is committed", () =>
    leakCheck(Effect.gen(function*() {
      const where = yield* freshStore(kind)
      const { pool, shutdown, stop } = yield* startPool({ store: where, config: { WORKERS: "1" } })
      yield* pool.submit({ ms: 2_000, payload: null }) // keeps the only worker busy
      yield* shutdown.trigger(ShutdownReason.Admin())
      const late = yield* pool.submit({ ms: 1, payload: null })
      yield* stop
      const reader = yield* startStore({ store: where })
      expect(Option.getOrThrow(yield* reader.store.get(late)).state).toBe("queued")
      yield* reader.stop
    }).pipe(Effect.provide(captureLogs().layer))), 20_000)

  it.live("a job defect is recovered: logged with its cause, retried up to JOB_MAX_ATTEMPTS, then failed with its error; the next job runs", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const { pool, stop, store } = yield* startPool({ store: yield* freshStore(kind), config: { JOB_MAX_ATTEMPTS: "2" } })
      const crashing = yield* pool.submit({ ms: 1, payload: { crash: true } })
      const next = yield* pool.submit({ ms: 1, payload: null })
      const failed = yield* awaitState(store, crashing, "failed")
      expect(failed).toMatchObject({ attempts: 2, error: `job ${crashing} crashed (payload.crash)` })
      yield* awaitState(store, next, "done")
      const logged = logs.lines.filter((line) => line.message === "job failed with a defect")
      expect(logged.map((line) => [line.level, line.jobId, line.attempt, line.willRetry])).toEqual([
        ["error", crashing, 1, true],
        ["error", crashing, 2, false]
      ])
      expect(String(logged[0]?.cause)).toContain("crashed (payload.crash)")
      yield* stop
    }).pipe(Effect.provide(logs.layer)))
  }, 20_000)

  it.live("at the deadline a running job is interrupted and handed back at once (not after the lease); the next start runs it", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const where = yield* freshStore(kind)
      // A lease of an hour: if the job came back, the lease is not what freed it.
      const first = yield* startPool({ store: where, budgetMs: 200, config: { JOB_LEASE_MS: "3600000" } })
      const long = yield* first.pool.submit({ ms: 5_000, payload: null })
      yield* awaitRunning(first.pool, long)
      yield* first.stop
      expect(yield* first.shutdown.forced).toEqual(["jobs: 1 running at the deadline"])
      expect(logs.lines.find((line) => line.message === "deadline reached: interrupting jobs; they go back to the queue")).toMatchObject({
        running: [long]
      })
      const reader = yield* startStore({ store: where })
      expect(Option.getOrThrow(yield* reader.store.get(long))).toMatchObject({ state: "queued", attempts: 0 })
      const rows = yield* reader.sql<{ acquired_at: unknown }>`SELECT acquired_at FROM ${reader.sql(QUEUE_TABLE)} WHERE id = ${long}`
      expect(rows).toEqual([{ acquired_at: null }])
      yield* reader.stop
    }).pipe(Effect.provide(logs.layer)))
  }, 20_000)

  it.live("a live replica renews the lease of the job it runs: a job longer than JOB_LEASE_MS is not taken by another replica", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const where = yield* freshStore(kind)
      // A 2 s lease (renewed well inside it even when a loaded machine delays a timer), a 5 s job.
      const a = yield* startPool({ store: where, config: { JOB_LEASE_MS: "2000" } })
      const long = yield* a.pool.submit({ ms: 5_000, payload: null })
      yield* awaitRunning(a.pool, long)
      // B polls the same store all along, idle: it would claim the job once its lease had expired.
      const b = yield* startPool({ store: where, config: { JOB_LEASE_MS: "2000" } })
      yield* awaitState(b.store, long, "done", 20_000)
      yield* Effect.sleep("300 millis") // the last "job done" line of a second run would be written by now
      expect(doneLines(logs.lines, long)).toHaveLength(1)
      expect(logs.lines.filter((line) => line.message === "job store unreachable")).toEqual([])
      yield* b.stop
      yield* a.stop
    }).pipe(Effect.provide(logs.layer)))
  }, 30_000)

  it.live("a replica that stopped holds no claim: jobs submitted elsewhere during its drain are free for the others at once", () =>
    leakCheck(Effect.gen(function*() {
      const where = yield* freshStore(kind)
      const a = yield* startPool({ store: where, budgetMs: 5_000, config: { WORKERS: "3", JOB_LEASE_MS: "3600000" } })
      const other = yield* startStore({ store: where, config: { JOB_QUEUE_SIZE: "100" } }) // another replica's store, without workers
      const long = yield* a.pool.submit({ ms: 800, payload: null })
      yield* awaitRunning(a.pool, long)
      // A drains its running job; meanwhile jobs keep arriving through another replica. A's idle
      // workers were stopped mid-take, which leaves the queue's poller claiming on their behalf.
      const draining = yield* Effect.fork(a.stop)
      const during = yield* Effect.forEach([1, 2, 3, 4], () => other.store.submit({ ms: 1, payload: null }))
      yield* Effect.sleep("300 millis") // A's poller, had it gone on, would have claimed some by now
      const claimed = other.sql<{ id: string }>`
        SELECT id FROM ${other.sql(QUEUE_TABLE)} WHERE completed = FALSE AND acquired_at IS NOT NULL`
      expect((yield* claimed).map((row) => row.id)).toEqual((yield* a.pool.running).length === 0 ? [] : [long])
      yield* draining
      const rows = yield* other.sql<{ id: string; claimed: number }>`
        SELECT id, CASE WHEN acquired_at IS NULL THEN 0 ELSE 1 END AS claimed
        FROM ${other.sql(QUEUE_TABLE)} WHERE completed = FALSE`
      expect(rows.map((row) => [row.id, Number(row.claimed)]).sort()).toEqual(during.map((id) => [id, 0]).sort())
      yield* other.stop
    }).pipe(Effect.provide(captureLogs().layer))), 20_000)

  it.live("a run whose claim was lost meanwhile records nothing: no second 'job done', the job stays with the claim's holder", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const where = yield* freshStore(kind)
      const a = yield* startPool({ store: where, config: { JOB_LEASE_MS: "3600000" } })
      const other = yield* startStore({ store: where })
      const job = yield* a.pool.submit({ ms: 500, payload: null })
      yield* awaitRunning(a.pool, job)
      // As if A's lease had run out and another replica had claimed the job.
      const thief = "00000000-0000-4000-8000-000000000000"
      yield* other.sql`UPDATE ${other.sql(QUEUE_TABLE)} SET acquired_by = ${thief} WHERE id = ${job}`
      yield* logs.waitForLine((line) => line.message === "job finished after its claim was lost; its other run records it", 5_000)
      expect(doneLines(logs.lines, job)).toEqual([])
      const rows = yield* other.sql<{ acquired_by: string; completed: unknown }>`
        SELECT acquired_by, completed FROM ${other.sql(QUEUE_TABLE)} WHERE id = ${job}`
      expect(rows.map((row) => [row.acquired_by, Boolean(row.completed)])).toEqual([[thief, false]])
      yield* a.stop
      yield* other.stop
    }).pipe(Effect.provide(logs.layer)))
  }, 20_000)
})
