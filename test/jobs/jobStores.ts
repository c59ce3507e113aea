// The jobs feature's layers in-process, on either store: SQLite in a fresh directory, or a fresh
// Postgres schema (when Postgres answered at setup; see test/support/postgres.ts).
import { SqlClient } from "@effect/sql"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import * as JobDatabase from "../../src/jobs/JobDatabase.js"
import * as JobsConfig from "../../src/jobs/JobsConfig.js"
import * as JobStore from "../../src/jobs/JobStore.js"
import * as WorkerPool from "../../src/jobs/WorkerPool.js"
import * as FiberRegistry from "../../src/lifecycle/FiberRegistry.js"
import * as Shutdown from "../../src/lifecycle/Shutdown.js"
import { ShutdownReason } from "../../src/lifecycle/ShutdownReason.js"
import { freshSchema, postgresUrl } from "../support/postgres.js"
import * as TestConfig from "../support/testConfig.js"

export interface StoreKind {
  readonly name: "sqlite" | "postgres"
  /** Where a new, empty store lives: a DATA_DIR, or a DATABASE_URL. */
  readonly fresh: () => Promise<TestConfig.Env>
}

export const sqlite: StoreKind = {
  name: "sqlite",
  fresh: async () => ({ DATA_DIR: await Fs.mkdtemp(Path.join(Os.tmpdir(), "jobs-")) })
}

export const postgres: StoreKind = {
  name: "postgres",
  fresh: async () => ({ DATABASE_URL: (await freshSchema()).url })
}

/** Both stores where Postgres is reachable; SQLite alone where it is not (setup said so). */
export const storeKinds: ReadonlyArray<StoreKind> = postgresUrl === null ? [sqlite] : [sqlite, postgres]

export const freshStore = (kind: StoreKind) => Effect.promise(() => kind.fresh())

export interface StartOptions {
  readonly store: TestConfig.Env
  readonly config?: TestConfig.Env
  readonly budgetMs?: number
}

const start = <Out>(layer: Layer.Layer<Out, unknown, JobsConfig.JobsConfig | Shutdown.Shutdown | FiberRegistry.FiberRegistry>, options: StartOptions) =>
  Effect.gen(function*() {
    const shutdown = yield* Shutdown.make(options.budgetMs ?? 2_000)
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(
      layer.pipe(
        Layer.provide(TestConfig.withEnv(JobsConfig.layer, { WORKERS: "1", JOB_QUEUE_SIZE: "10", ...options.store, ...options.config })),
        Layer.provide(Layer.succeed(Shutdown.Shutdown, shutdown)),
        Layer.provide(FiberRegistry.layer)
      ),
      scope
    )
    const stop = Effect.zipRight(shutdown.trigger(ShutdownReason.Signal({ signal: "SIGTERM" })), Scope.close(scope, Exit.void))
    return { context, stop, shutdown }
  }).pipe(Effect.orDie)

const storeLayer = JobStore.layer.pipe(Layer.provideMerge(JobDatabase.layer))

/** Database and store built into their own scope, as JobsFeature does; `stop` releases them. */
export const startStore = (options: StartOptions) =>
  Effect.map(start(storeLayer, options), ({ context, ...rest }) => ({
    ...rest,
    store: Context.get(context, JobStore.JobStore),
    sql: Context.get(context, SqlClient.SqlClient)
  }))

/** Database, store and pool, as JobsFeature builds them. */
export const startPool = (options: StartOptions) =>
  Effect.map(start(WorkerPool.layer.pipe(Layer.provideMerge(storeLayer)), options), ({ context, ...rest }) => ({
    ...rest,
    store: Context.get(context, JobStore.JobStore),
    pool: Context.get(context, WorkerPool.WorkerPool)
  }))

/** Polls the store until the job reaches `state` (the store's answer is the event). */
export const awaitState = (store: JobStore.JobStore["Type"], id: string, state: JobStore.JobState, timeoutMs = 10_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    while (true) {
      const job = yield* Effect.orDie(store.get(id))
      if (job._tag === "Some" && job.value.state === state) return job.value
      if (Date.now() > deadline) return yield* Effect.dieMessage(`job ${id} did not reach ${state}: ${JSON.stringify(job)}`)
      yield* Effect.sleep("20 millis")
    }
  })

/** Waits until this pool's own workers run the job (a claimed job may not have started yet). */
export const awaitRunning = (pool: WorkerPool.WorkerPool["Type"], id: string, timeoutMs = 10_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    while (!(yield* pool.running).includes(id)) {
      if (Date.now() > deadline) return yield* Effect.dieMessage(`job ${id} did not start`)
      yield* Effect.sleep("10 millis")
    }
  })
