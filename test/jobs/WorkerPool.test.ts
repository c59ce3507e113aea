// The pool and the store it uses: stopped once, by its owner, after its users.
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Either, Exit, Layer, Option, Ref, Scope } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import * as AppConfig from "../../src/config/AppConfig.js"
import * as JobStore from "../../src/jobs/JobStore.js"
import * as WorkerPool from "../../src/jobs/WorkerPool.js"
import * as FiberRegistry from "../../src/lifecycle/FiberRegistry.js"
import * as Shutdown from "../../src/lifecycle/Shutdown.js"
import { ShutdownReason } from "../../src/lifecycle/ShutdownReason.js"
import { captureLogs } from "../support/captureLogs.js"
import { leakCheck } from "../support/LeakCheck.js"

/** A pool over a store that records its state changes and its close, both in one Ref. */
const startPool = (options: {
  readonly dataDir?: string
  readonly workers?: number
  readonly queue?: number
  readonly budgetMs?: number
  /** Keeps the `done` write in flight this long after the record is written. */
  readonly slowDoneMs?: number
}) =>
  Effect.gen(function*() {
    const dataDir = options.dataDir ?? (yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "pool-"))))
    const events = yield* Ref.make<ReadonlyArray<string>>([])
    const record = (event: string) => Ref.update(events, (all) => [...all, event])
    const shutdown = yield* Shutdown.make(options.budgetMs ?? 2_000)
    const scope = yield* Scope.make()
    const RecordingStore = Layer.scoped(
      JobStore.JobStore,
      Effect.acquireRelease(JobStore.make(dataDir), (store) => Effect.zipRight(record("store closed"), Effect.orDie(store.close))).pipe(
        Effect.map((store) =>
          JobStore.JobStore.of({
            ...store,
            transition: (id, state, error) =>
              Effect.tap(store.transition(id, state, error), () => record(`${state} ${id}`)).pipe(
                Effect.zipLeft(state === "done" && options.slowDoneMs !== undefined ? Effect.sleep(options.slowDoneMs) : Effect.void)
              )
          })
        )
      )
    )
    const context = yield* Layer.buildWithScope(
      WorkerPool.layer.pipe(
        Layer.provideMerge(RecordingStore),
        Layer.provide(AppConfig.layer(AppConfig.test({ dataDir, workers: options.workers ?? 1, jobQueueSize: options.queue ?? 10 }))),
        Layer.provide(Layer.succeed(Shutdown.Shutdown, shutdown)),
        Layer.provide(FiberRegistry.layer)
      ),
      scope
    )
    const stop = Effect.zipRight(shutdown.trigger(ShutdownReason.Signal({ signal: "SIGTERM" })), Scope.close(scope, Exit.void))
    return { pool: Context.get(context, WorkerPool.WorkerPool), events, stop, dataDir, shutdown }
  })

const states = (events: ReadonlyArray<string>, id: string) => events.filter((event) => event.endsWith(id)).map((event) => event.split(" ")[0])

describe("WorkerPool", () => {
  it.live("release order: the store closes after the last worker has finished its job", () =>
    leakCheck(Effect.gen(function*() {
      const { events, pool, stop } = yield* startPool({ workers: 2 })
      const jobs = yield* Effect.forEach([80, 120, 40], (ms) => pool.submit({ ms, payload: null }))
      yield* stop
      const all = yield* Ref.get(events)
      expect(all.at(-1)).toBe("store closed")
      for (const job of jobs) expect(states(all, job.id)).toEqual(["running", "done"])
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  it.live("a full queue refuses with QueueFull at once; shutdown refuses with PoolClosed", () =>
    leakCheck(Effect.gen(function*() {
      const { pool, shutdown, stop } = yield* startPool({ workers: 1, queue: 2 })
      yield* pool.submit({ ms: 200, payload: null }) // taken by the worker, or still queued
      yield* pool.submit({ ms: 200, payload: null })
      yield* pool.submit({ ms: 200, payload: null })
      const full = yield* Effect.either(pool.submit({ ms: 1, payload: null }))
      expect(Either.isLeft(full) && full.left._tag).toBe("QueueFull")
      yield* shutdown.trigger(ShutdownReason.Admin())
      const closed = yield* Effect.either(pool.submit({ ms: 1, payload: null }))
      expect(Either.isLeft(closed) && closed.left._tag).toBe("PoolClosed")
      yield* stop
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  it.live("a job defect is recovered: logged with its cause, the job failed, the next job runs", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const { events, pool, stop } = yield* startPool({ workers: 1 })
      const crashing = yield* pool.submit({ ms: 1, payload: { crash: true } })
      const next = yield* pool.submit({ ms: 1, payload: null })
      yield* stop
      const all = yield* Ref.get(events)
      expect(states(all, crashing.id)).toEqual(["running", "failed"])
      expect(states(all, next.id)).toEqual(["running", "done"])
      const logged = logs.lines.find((line) => line.message === "job failed with a defect")
      expect(logged).toMatchObject({ level: "error", jobId: crashing.id })
      expect(String(logged?.cause)).toContain("crashed (payload.crash)")
    }).pipe(Effect.provide(logs.layer)))
  }, 10_000)

  it.live("at the deadline a running job is interrupted, journaled queued, and runs on the next start", () =>
    leakCheck(Effect.gen(function*() {
      const first = yield* startPool({ workers: 1, budgetMs: 200 })
      const long = yield* first.pool.submit({ ms: 400, payload: null })
      const queued = yield* first.pool.submit({ ms: 1, payload: null })
      yield* first.stop
      expect(states(yield* Ref.get(first.events), long.id)).toEqual(["running", "queued"])
      expect(yield* first.shutdown.forced).toEqual(["jobs: 1 running, 1 queued at the deadline"])

      const second = yield* startPool({ workers: 1, dataDir: first.dataDir })
      yield* second.stop
      const all = yield* Ref.get(second.events)
      expect(states(all, long.id)).toEqual(["running", "done"])
      expect(states(all, queued.id)).toEqual(["running", "done"])
      const reopened = yield* JobStore.make(first.dataDir)
      expect(Option.getOrThrow(reopened.get(long.id)).state).toBe("done")
      yield* reopened.close
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  it.live("a deadline that lands while `done` is being recorded does not also journal `queued` (no second run)", () =>
    leakCheck(Effect.gen(function*() {
      // The job ends at ~30 ms; its `done` write stays in flight until ~330 ms; the deadline is 150 ms.
      const first = yield* startPool({ workers: 1, budgetMs: 150, slowDoneMs: 300 })
      const job = yield* first.pool.submit({ ms: 30, payload: null })
      yield* first.stop
      expect(states(yield* Ref.get(first.events), job.id)).toEqual(["running", "done"])
      const reopened = yield* JobStore.make(first.dataDir)
      expect(Option.getOrThrow(reopened.get(job.id)).state).toBe("done")
      expect(reopened.unfinished()).toEqual([])
      yield* reopened.close
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)
})
