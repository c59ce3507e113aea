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

export class JobDatabaseError extends Data.TaggedError("JobDatabaseError")<{
  readonly store: "sqlite" | "postgres"
  readonly cause: unknown
}> {
  override get message() {
    const cause = Cause.isCause(this.cause) ? Cause.squash(this.cause) : this.cause
    return `the ${this.store} job store could not be opened: ${cause instanceof Error ? cause.message : String(cause)}`
  }
}

export const databaseFile = (dataDir: string) => Path.join(dataDir, "jobs.db")

const exists = (file: string) => Effect.promise(() => Fs.access(file).then(() => true, () => false))

/** better-sqlite3 throws from its constructor (a directory it cannot write): a defect there. */
const openSqlite = (options: SqliteClient.SqliteClientConfig) =>
  Effect.catchAllDefect(SqliteClient.make(options), Effect.fail)

const removeCreating = (file: string) =>
  Effect.promise(() => Promise.all(["", "-wal", "-shm"].map((suffix) => Fs.rm(`${file}${suffix}`, { force: true }))))

/**
 * A store that does not exist yet, made whole before it gets its name. Made in place, each of its
 * first writes waited for the disk (the switch to WAL, the migrations' commits: ~30 ms of a start
 * on a fresh DATA_DIR, which is every start of a replica without a volume). Here they are written
 * under a temporary name with synchronous = OFF, then made durable at once (FULL and a TRUNCATE
 * checkpoint: the WAL synced, copied into the file, the file synced), closed, and only then linked
 * to `file` and the folder synced. A crash before that leaves a `jobs.db.creating-*` file behind
 * (nothing reads it; it may be deleted), never a half-made store under the real name; link does
 * not replace a store another start made meanwhile (that one is used). No job is accepted before
 * the store is opened under its name with FULL, so nothing a 202 promised rests on OFF.
 * false: the file system cannot link (the caller then opens the store in place, the slow way).
 */
const createWhole = (file: string) => {
  const creating = `${file}.creating-${process.pid}-${crypto.randomUUID()}`
  return Effect.gen(function*() {
    yield* Effect.scoped(Effect.gen(function*() {
      const client = yield* openSqlite({ filename: creating, disableWAL: true })
      yield* client`PRAGMA synchronous = OFF`
      yield* client`PRAGMA journal_mode = WAL`
      yield* Effect.provideService(JobMigrations.run, SqlClient.SqlClient, client)
      yield* client`PRAGMA synchronous = FULL`
      yield* client`PRAGMA wal_checkpoint(TRUNCATE)`
    }))
    const linked = yield* Effect.tryPromise(() => Fs.link(creating, file)).pipe(
      Effect.as(true),
      Effect.catchIf((error) => (error.error as NodeJS.ErrnoException).code === "EEXIST", () => Effect.succeed(true)),
      Effect.catchIf((error) => ["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS"].includes((error.error as NodeJS.ErrnoException).code ?? ""), () => Effect.succeed(false))
    )
    yield* removeCreating(creating)
    if (linked) {
      yield* Effect.tryPromise(async () => {
        const folder = await Fs.open(Path.dirname(file), "r")
        try {
          await folder.sync()
        } finally {
          await folder.close()
        }
      })
    }
    return linked
  }).pipe(Effect.onError(() => removeCreating(creating)))
}

/** One connection, in WAL mode (the client's default); FULL makes every commit durable before
 * the 202 that follows it (NORMAL would let a power loss take the last commits back). */
const sqlite = Effect.fn("JobDatabase.sqlite")(
  function*(dataDir: string) {
    const file = databaseFile(dataDir)
    yield* Effect.tryPromise(() => Fs.mkdir(dataDir, { recursive: true }))
    if (!(yield* exists(file))) yield* createWhole(file)
    const client = yield* openSqlite({ filename: file })
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
    // Added first, so it runs last: after the client's own release has closed it.
    yield* Effect.addFinalizer(() => Effect.logInfo("job store closed"))
    const { client, opened } = yield* (config.databaseUrl === undefined ? sqlite(config.dataDir) : postgres(config.databaseUrl))
    yield* JobMigrations.run.pipe(
      Effect.provideService(SqlClient.SqlClient, client),
      Effect.mapError((cause) => new JobDatabaseError({ store: opened.store, cause }))
    )
    yield* Effect.logInfo("job store opened").pipe(Effect.annotateLogs(opened))
    return client
  })
).pipe(Layer.provide(Reactivity.layer))
