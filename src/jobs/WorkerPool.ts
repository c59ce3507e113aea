/**
 * A fixed pool of workers on the durable queue: a worker per job would be a fiber per request.
 * Owns: WORKERS worker fibers (a FiberMap by worker number, each listed in the FiberRegistry) and
 *   the lease keeper (forked through the FiberRegistry into its scope).
 * Does not own: the JobStore (acquired before the pool, released after it) or the routes.
 * Released when: its scope closes, after the routes' server has drained: it stops taking jobs
 *   (idle workers are interrupted; a job claimed from now on is handed back), lets running jobs
 *   finish within the remaining budget, and at the deadline interrupts them: the queue releases
 *   each one's claim at once, so another replica (or the next start) runs it without waiting for
 *   the lease.
 */
import { Cause, Context, Data, Deferred, Duration, Effect, Exit, FiberMap, Layer, Option, Schedule } from "effect"
import { JobsConfig } from "./JobsConfig.js"
import { FiberRegistry } from "../lifecycle/FiberRegistry.js"
import { Shutdown } from "../lifecycle/Shutdown.js"
import * as JobMetrics from "./JobMetrics.js"
import { type JobInput, JobStore, type QueueFull, type StoreUnavailable } from "./JobStore.js"
import * as ScopeFinalizer from "../lifecycle/ScopeFinalizer.js"

export class PoolClosed extends Data.TaggedError("PoolClosed")<{}> {}

/** A run that failed: the queue records this as the attempt's failure (its `last_failure`). */
export class JobCrashed extends Data.TaggedError("JobCrashed")<{ readonly message: string }> {}

export class WorkerPool extends Context.Tag("app/WorkerPool")<WorkerPool, {
  /** Commits the job to the store. Fails fast: QueueFull at capacity, PoolClosed once the pool stops,
   * StoreUnavailable when it could not be committed. */
  readonly submit: (input: { readonly ms: number; readonly payload: unknown }) => Effect.Effect<
    string,
    QueueFull | PoolClosed | StoreUnavailable
  >
  /** The ids of the jobs this replica's workers run right now. */
  readonly running: Effect.Effect<ReadonlyArray<string>>
}>() {}

/** The sample job: waits `ms` (interruptibly); a payload of {"crash": true} then dies, standing
 * in for a bug in a job. */
const work = (id: string, job: JobInput) =>
  Effect.sleep(job.ms).pipe(
    Effect.zipRight(Effect.suspend(() => {
      const payload = job.payload as { readonly crash?: unknown } | null
      return payload !== null && typeof payload === "object" && payload.crash === true
        ? Effect.die(new Error(`job ${id} crashed (payload.crash)`))
        : Effect.void
    }))
  )

const defectMessage = (cause: Cause.Cause<unknown>) => {
  const squashed = Cause.squash(cause)
  return squashed instanceof Error ? squashed.message : String(squashed)
}

/** After the store failed a take (database down), a worker waits this long before the next. */
const TAKE_BACKOFF = Duration.seconds(1)

export const make = Effect.gen(function*() {
  const config = yield* JobsConfig
  const store = yield* JobStore
  const shutdown = yield* Shutdown
  const registry = yield* FiberRegistry
  /** Completed once the pool stops taking jobs (its release began). */
  const stopping = yield* Deferred.make<void>()
  const isStopping = Deferred.isDone(stopping)
  /** Worker number -> the job it runs now (from its start until `take` has recorded it). */
  const running = new Map<number, string>()

  /** The outcome of one run that did not fail: recorded done, or its claim was lost meanwhile. */
  type Ran = { readonly id: string; readonly attempts: number; readonly recorded: boolean }

  /** One run of one job, inside the queue's `take`: success completes it, failure is an attempt. */
  const runJob = (worker: number) => (job: JobInput, meta: { readonly id: string; readonly attempts: number }) =>
    Effect.gen(function*() {
      // Claimed while the pool was stopping: interrupted, the queue hands it back at once.
      if (yield* isStopping) return yield* Effect.interrupt
      running.set(worker, meta.id)
      JobMetrics.countState("running")
      const attempt = meta.attempts + 1
      yield* Effect.logDebug("job started").pipe(Effect.annotateLogs({ jobId: meta.id, attempt }))
      return yield* work(meta.id, job).pipe(
        // recover in the goroutine that panics: log the cause, record the attempt, go on
        Effect.catchAllDefect((defect) => {
          const cause = Cause.die(defect)
          const willRetry = attempt < config.jobMaxAttempts
          if (!willRetry) JobMetrics.countState("failed")
          return Effect.logError("job failed with a defect", cause).pipe(
            Effect.annotateLogs({ jobId: meta.id, attempt, willRetry }),
            Effect.zipRight(Effect.fail(new JobCrashed({ message: defectMessage(cause) })))
          )
        }),
        // Done: recorded at once, not interruptible (the deadline must not cut a finished job's
        // record in half), retried briefly if the store hiccups.
        Effect.zipRight(
          store.complete(meta.id, attempt).pipe(
            Effect.retry({ times: 5, schedule: Schedule.exponential("100 millis", 1.5) }),
            Effect.uninterruptible
          )
        ),
        Effect.map((recorded): Ran => ({ id: meta.id, attempts: attempt, recorded }))
      )
    })

  const worker = (n: number) =>
    Effect.gen(function*() {
      while (!(yield* isStopping)) {
        // The entry goes only once `take` has returned: until the queue has written the outcome the
        // worker is busy, and the drain must not take it for idle and interrupt it.
        const exit = yield* Effect.exit(Effect.ensuring(store.take(runJob(n)), Effect.sync(() => running.delete(n))))
        if (Exit.isSuccess(exit)) {
          const { attempts, id, recorded } = exit.value
          if (recorded) {
            JobMetrics.countState("done")
            yield* Effect.logInfo("job done").pipe(Effect.annotateLogs({ jobId: id, attempts }))
          } else {
            // At-least-once made visible: this run outlived its lease (the event loop or the
            // database stalled) and another worker took the job; that run records it.
            yield* Effect.logWarning("job finished after its claim was lost; its other run records it").pipe(
              Effect.annotateLogs({ jobId: id, attempts })
            )
          }
          continue
        }
        const failure = Cause.failureOption(exit.cause)
        // Interrupted (the pool is stopping) or the job's own failure, already logged and recorded.
        if (Cause.isInterruptedOnly(exit.cause) || (Option.isSome(failure) && failure.value instanceof JobCrashed)) continue
        // The store failed (database down, a row it could not decode): not the job's fault.
        yield* Effect.logWarning("job store: taking a job failed; retrying", exit.cause).pipe(Effect.annotateLogs({ worker: n }))
        yield* Effect.sleep(TAKE_BACKOFF)
      }
    })

  // GET /debug/shutdown: the jobs this replica runs now hold the drain.
  yield* shutdown.holders.add("jobs", () => ({ running: running.size }))
  // The queue's own lock refresh does nothing (see JobStore): renew our running jobs' leases
  // three times per lease, so a live replica never loses a job it is running.
  const renewEvery = Duration.millis(Math.max(250, Math.floor(config.jobLeaseMs / 3)))
  const renewLeases = Effect.suspend(() => store.keepLeases(Array.from(running.values()))).pipe(
    Effect.catchAll((error) => Effect.logWarning("job store: renewing job leases failed", error))
  )
  yield* registry.fork("jobs.lease-keeper", "jobs")(Effect.repeat(renewLeases, Schedule.spaced(renewEvery)))

  // Keyed by worker number, so the drain can stop the idle ones alone; a worker leaves when it ends.
  // Forked in this layer's scope (FiberMap.run would make each a root fiber, whose children a
  // finished worker no longer waits for), then set in the map.
  const workers = yield* FiberMap.make<number, void, never>()
  const numbers = Array.from({ length: config.workers }, (_, i) => i + 1)
  yield* Effect.forEach(numbers, (n) => Effect.flatMap(registry.fork(`jobs.worker/${n}`, "jobs")(worker(n)), (fiber) => FiberMap.set(workers, n, fiber)), {
    discard: true
  })

  // Added after the lease keeper was forked, so it runs first: leases are renewed while jobs drain.
  yield* ScopeFinalizer.add(() =>
    Effect.gen(function*() {
      yield* Deferred.succeed(stopping, undefined)
      // Idle workers wait in `take` with nothing to finish: stop them now (no new claims).
      const idle = numbers.filter((n) => !running.has(n))
      yield* Effect.forEach(idle, (n) => FiberMap.remove(workers, n), { concurrency: "unbounded", discard: true })
      // and hand back at once what the queue had fetched for them
      yield* store.stopTaking
      const handBack = (except: ReadonlyArray<string>) =>
        store.releaseClaims(except).pipe(Effect.catchAll((error) => Effect.logWarning("job store: handing back claims failed", error)))
      yield* handBack(Array.from(running.values()))
      const remaining = yield* shutdown.remaining
      // Interruptible on purpose: this runs inside a finalizer, and the deadline must cut it.
      const finished = yield* shutdown.phase("jobs-drain")(
        Effect.timeoutOption(Effect.interruptible(FiberMap.awaitEmpty(workers)), remaining)
      )
      if (Option.isNone(finished)) {
        yield* shutdown.recordForced(`jobs: ${running.size} running at the deadline`)
        yield* Effect.logWarning("deadline reached: interrupting jobs; they go back to the queue").pipe(
          Effect.annotateLogs({ running: Array.from(running.values()) })
        )
      }
      yield* shutdown.phase("jobs-stop")(FiberMap.clear(workers))
      // A claim query cut short by stopTaking may have committed after the first hand-back.
      yield* handBack([])
    })
  )

  return WorkerPool.of({
    // Once per POST /jobs: no span of its own (see JobStore.submit).
    submit: Effect.fnUntraced(function*(input) {
      // Only once the pool stops (after the public server drained): during DRAIN_DELAY_MS the
      // replica still serves, and a balancer that has not yet seen /readyz fail still sends jobs.
      if (yield* isStopping) return yield* new PoolClosed()
      const id = yield* store.submit(input)
      JobMetrics.countState("queued")
      return id
    }),
    running: Effect.sync(() => Array.from(running.values()))
  })
})

export const layer = Layer.scoped(WorkerPool, make)
