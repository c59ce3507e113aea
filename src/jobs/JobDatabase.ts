/**
 * The jobs' database: SQLite at DATA_DIR/jobs.db by default, or the Postgres that DATABASE_URL
 * names (every replica then shares one queue); its schema migrated before anyone uses it.
 * Owns: the SQL client (one SQLite connection, or the Postgres connection pool).
 * Does not own: the queue on top (JobStore) or the workers (WorkerPool).
 * Released when: its layer's scope closes, after the job store and the pool (acquired after it):
 *   the connection or the pool closes, once, and "job store closed" is logged.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Cause, Data, Effect, Layer, Redacted } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { JobsConfig } from "./JobsConfig.js"
import * as JobMigrations from "./JobMigrations.js"
import * as ScopeFinalizer from "../lifecycle/ScopeFinalizer.js"

export class JobDatabaseError extends Data.TaggedError("JobDatabaseError")<{
  readonly store: "sqlite" | "postgres"
  readonly cause: unknown
}> {
  /** The whole chain down to the driver's own words (e.g. "connect ECONNREFUSED 10.0.0.5:5432"):
   * at startup this is the line that says why the service exits. */
  override get message() {
    const reasons: Array<string> = []
    let cause: unknown = Cause.isCause(this.cause) ? Cause.squash(this.cause) : this.cause
    for (let depth = 0; depth < 5 && cause !== undefined; depth++) {
      const reason = cause instanceof Error ? cause.message : String(cause)
      if (reason !== "" && !reasons.includes(reason)) reasons.push(reason)
      cause = cause instanceof Error ? cause.cause : undefined
    }
    return `the ${this.store} job store could not be opened: ${reasons.join(": ")}`
  }
}

export const databaseFile = (dataDir: string) => Path.join(dataDir, "jobs.db")

/** One connection, in WAL mode (the client's default); FULL makes every commit durable before
 * the 202 that follows it (NORMAL would let a power loss take the last commits back). */
const sqlite = Effect.fn("JobDatabase.sqlite")(
  function*(dataDir: string) {
    const file = databaseFile(dataDir)
    yield* Effect.tryPromise(() => Fs.mkdir(dataDir, { recursive: true }))
    // better-sqlite3 throws from its constructor (a directory it cannot write): a defect there.
    const client = yield* Effect.catchAllDefect(SqliteClient.make({ filename: file }), Effect.fail)
    yield* client`PRAGMA synchronous = FULL`
    return { client: client as SqlClient.SqlClient, opened: { store: "sqlite" as const, file } }
  },
  Effect.mapError((cause) => new JobDatabaseError({ store: "sqlite", cause }))
)

const postgres = Effect.fn("JobDatabase.postgres")(
  function*(url: Redacted.Redacted<URL>) {
    const client = yield* PgClient.make({
      url: Redacted.make(Redacted.value(url).toString()),
      applicationName: "owned-service",
      connectTimeout: "5 seconds",
      maxConnections: 10
    })
    return { client: client as SqlClient.SqlClient, opened: { store: "postgres" as const } }
  },
  Effect.mapError((cause) => new JobDatabaseError({ store: "postgres", cause }))
)

export const layer = Layer.scoped(
  SqlClient.SqlClient,
  Effect.gen(function*() {
    const config = yield* JobsConfig
    // Added first, so it runs last: after the client's own release has closed it (a store that
    // never opened was not closed either).
    let open = false
    yield* ScopeFinalizer.add(() => (open ? Effect.logInfo("job store closed") : Effect.void))
    const { client, opened } = yield* (config.databaseUrl === undefined ? sqlite(config.dataDir) : postgres(config.databaseUrl))
    open = true
    yield* JobMigrations.run.pipe(
      Effect.provideService(SqlClient.SqlClient, client),
      Effect.mapError((cause) => new JobDatabaseError({ store: opened.store, cause }))
    )
    yield* Effect.logInfo("job store opened").pipe(Effect.annotateLogs(opened))
    return client
  })
).pipe(Layer.provide(Reactivity.layer))
