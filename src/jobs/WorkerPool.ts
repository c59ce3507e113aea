/**
 * A fixed pool of workers on a queue: a worker per job would be a fiber per request.
 * Owns: the queue and WORKERS worker fibers (forked through the FiberRegistry into its scope).
 * Does not own: the JobStore (acquired before the pool, released after it) or the routes.
 * Released when: its scope closes, after the routes' server has drained: it stops taking jobs,
 *   lets queued and running jobs finish within the remaining budget, and at the deadline
 *   interrupts the workers; a job cut short is journaled `queued` and runs on the next start.
 */
import { Cause, Context, Data, Effect, Fiber, Layer, Option, Queue } from "effect"
import { AppConfig } from "../config/AppConfig.js"
import * as Condition from "../lifecycle/Condition.js"
import { FiberRegistry } from "../lifecycle/FiberRegistry.js"
import { Shutdown } from "../lifecycle/Shutdown.js"
import * as JobMetrics from "./JobMetrics.js"
import { type Job, JobStore, type JobStoreClosed, type JobStoreError } from "./JobStore.js"

export class QueueFull extends Data.TaggedError("QueueFull")<{ readonly capacity: number }> {}
export class PoolClosed extends Data.TaggedError("PoolClosed")<{}> {}

export class WorkerPool extends Context.Tag("app/WorkerPool")<WorkerPool, {
  /** Journals the job, then queues it. Fails fast: QueueFull at capacity, PoolClosed in shutdown. */
  readonly submit: (input: { readonly ms: number; readonly payload: unknown }) => Effect.Effect<
    Job,
    QueueFull | PoolClosed | JobStoreClosed | JobStoreError
  >
}>() {}

/** The sample job: waits `ms` (interruptibly); a payload of {"crash": true} then dies, standing
 * in for a bug in a job. */
const work = (job: Job) =>
  Effect.sleep(job.ms).pipe(
    Effect.zipRight(Effect.suspend(() => {
      const payload = job.payload as { readonly crash?: unknown } | null
      return payload !== null && typeof payload === "object" && payload.crash === true
        ? Effect.die(new Error(`job ${job.id} crashed (payload.crash)`))
        : Effect.void
    }))
  )

const defectMessage = (cause: Cause.Cause<unknown>) => {
  const squashed = Cause.squash(cause)
  return squashed instanceof Error ? squashed.message : String(squashed)
}

export const make = Effect.gen(function*() {
  const config = yield* AppConfig
  const store = yield* JobStore
  const shutdown = yield* Shutdown
  const registry = yield* FiberRegistry
  const queue = yield* Effect.acquireRelease(Queue.unbounded<string>(), Queue.shutdown)
  // The bound is ours, not the queue's: jobs replayed from the journal are never refused.
  let waiting = 0
  let accepting = true
  const running = new Set<string>()
  const idle = Condition.make(() => waiting === 0 && running.size === 0)
  const notifyIfIdle = () => {
    JobMetrics.setDepth(waiting)
    idle.check()
  }
  const enqueue = (id: string) => {
    waiting += 1
    Queue.unsafeOffer(queue, id)
    notifyIfIdle()
  }

  const transition = (id: string, state: Job["state"], error?: string) =>
    Effect.tap(store.transition(id, state, error), () => Effect.sync(() => JobMetrics.countState(state)))

  const runJob = (id: string) =>
    Effect.gen(function*() {
      const job = Option.getOrUndefined(store.get(id))
      // Recorded done or failed already (a replayed duplicate): never run a finished job again.
      if (job === undefined || job.state === "done" || job.state === "failed") return
      running.add(id)
      yield* transition(id, "running")
      // Only the work is interruptible. Its outcome is recorded exactly once, uninterruptibly:
      // an interrupt landing while `done` is being written must not also journal `queued`
      // (the next start would run a finished job again).
      yield* Effect.uninterruptibleMask((restore) =>
        restore(work(job)).pipe(
          Effect.matchCauseEffect({
            onSuccess: () => transition(id, "done"),
            onFailure: (cause) =>
              Cause.isInterruptedOnly(cause)
                // Cut short (the deadline): back to queued, so the next start runs it again.
                ? transition(id, "queued")
                // recover in the goroutine that panics: log the cause, mark the job failed, go on
                : Effect.zipRight(
                  Effect.logError("job failed with a defect", cause).pipe(Effect.annotateLogs({ jobId: id })),
                  transition(id, "failed", defectMessage(cause))
                )
          })
        )
      )
    }).pipe(
      Effect.catchAll((error) => Effect.logError("job journal write failed", error).pipe(Effect.annotateLogs({ jobId: id }))),
      Effect.ensuring(Effect.sync(() => {
        running.delete(id)
        notifyIfIdle()
      }))
    )

  const worker = Effect.forever(Effect.flatMap(Queue.take(queue), (id) => {
    waiting -= 1
    return runJob(id)
  }))

  for (const job of store.unfinished()) enqueue(job.id)
  if (waiting > 0) yield* Effect.logInfo("resuming unfinished jobs").pipe(Effect.annotateLogs({ jobs: waiting }))
  const workers = yield* Effect.forEach(
    Array.from({ length: config.workers }, (_, i) => i + 1),
    (n) => registry.fork(`jobs.worker/${n}`, "jobs")(worker)
  )

  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      accepting = false
      const remaining = yield* shutdown.remaining
      // Interruptible on purpose: this runs inside a finalizer, and the deadline must cut it.
      const finished = yield* shutdown.phase("jobs-drain")(Effect.timeoutOption(Effect.interruptible(idle.await), remaining))
      if (Option.isNone(finished)) {
        yield* shutdown.recordForced(`jobs: ${running.size} running, ${waiting} queued at the deadline`)
        yield* Effect.logWarning("deadline reached: interrupting jobs; they stay queued for the next start").pipe(
          Effect.annotateLogs({ running: Array.from(running), queued: waiting })
        )
      }
      yield* shutdown.phase("jobs-stop")(Fiber.interruptAll(workers))
    })
  )

  return WorkerPool.of({
    submit: (input) =>
      Effect.suspend((): Effect.Effect<Job, QueueFull | PoolClosed | JobStoreClosed | JobStoreError> => {
        if (!accepting || shutdown.isShuttingDown()) return Effect.fail(new PoolClosed())
        if (waiting >= config.jobQueueSize) return Effect.fail(new QueueFull({ capacity: config.jobQueueSize }))
        // Reserve the slot before the (async) journal write, so concurrent submits cannot overfill.
        waiting += 1
        // Journaled and queued together or not at all: an interrupt between them would strand the job.
        return store.accept(input).pipe(
          Effect.tap((job) =>
            Effect.sync(() => {
              JobMetrics.countState("queued")
              Queue.unsafeOffer(queue, job.id)
              notifyIfIdle()
            })
          ),
          Effect.tapErrorCause(() => Effect.sync(() => (waiting -= 1))),
          Effect.uninterruptible
        )
      })
  })
})

export const layer = Layer.scoped(WorkerPool, make)
