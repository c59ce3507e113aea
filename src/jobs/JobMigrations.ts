// The jobs' schema, made by @effect/sql's Migrator at startup, on SQLite and on Postgres.
//
// Migration 1 creates exactly the table and indexes SqlPersistedQueue creates for itself (it runs
// `CREATE ... IF NOT EXISTS` each time it starts, which then finds them and does nothing): made
// here first, under a lock, because those unguarded statements race when several replicas start
// on an empty Postgres at once. It also adds the probe table the store's readiness check writes.
//
// Concurrent starts on Postgres: the Migrator serialises its own runs (LOCK TABLE on its table in
// one transaction), but creates that table with a check-then-create that two replicas can both
// pass; we create it first inside a transaction holding an advisory lock, so it never races.
import { Migrator, SqlClient } from "@effect/sql"
import { Effect } from "effect"

export const QUEUE_TABLE = "effect_queue"
export const PROBE_TABLE = "job_store_probe"
const MIGRATIONS_TABLE = "effect_sql_migrations"
/** pg_advisory_xact_lock key for the migrations (any constant unique to this service). */
const MIGRATION_LOCK = 0x6a6f6273 // "jobs"

const createQueue = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  // Column for column SqlPersistedQueue's (node_modules/@effect/sql/src/SqlPersistedQueue.ts).
  yield* sql.onDialectOrElse({
    pg: () =>
      sql`CREATE TABLE IF NOT EXISTS ${sql(QUEUE_TABLE)} (
        sequence SERIAL PRIMARY KEY,
        id VARCHAR(36) NOT NULL,
        queue_name VARCHAR(100) NOT NULL,
        element TEXT NOT NULL,
        completed BOOLEAN NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_failure TEXT NULL,
        acquired_at TIMESTAMP NULL,
        acquired_by UUID NULL,
        created_at TIMESTAMP NOT NULL,
        updated_at TIMESTAMP NOT NULL
      )`,
    orElse: () =>
      sql`CREATE TABLE IF NOT EXISTS ${sql(QUEUE_TABLE)} (
        sequence INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL,
        queue_name TEXT NOT NULL,
        element TEXT NOT NULL,
        completed BOOLEAN NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_failure TEXT NULL,
        acquired_at DATETIME NULL,
        acquired_by TEXT NULL,
        created_at DATETIME NOT NULL,
        updated_at DATETIME NOT NULL
      )`
  })
  yield* sql`CREATE UNIQUE INDEX IF NOT EXISTS ${sql(`idx_${QUEUE_TABLE}_id`)} ON ${sql(QUEUE_TABLE)} (id)`
  yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`idx_${QUEUE_TABLE}_take`)} ON ${sql(QUEUE_TABLE)} (queue_name, completed, attempts, acquired_at)`
  yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`idx_${QUEUE_TABLE}_update`)} ON ${sql(QUEUE_TABLE)} (sequence, acquired_by)`
  // Pruning finished jobs scans by age.
  yield* sql`CREATE INDEX IF NOT EXISTS ${sql(`idx_${QUEUE_TABLE}_updated`)} ON ${sql(QUEUE_TABLE)} (queue_name, updated_at)`
  yield* sql`CREATE TABLE IF NOT EXISTS ${sql(PROBE_TABLE)} (id INTEGER PRIMARY KEY, probed_at TEXT NOT NULL)`
})

const migrate = Migrator.make({})

/** Runs the pending migrations; on Postgres, safe when several replicas run it at once. */
export const run = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.onDialectOrElse({
    pg: () =>
      sql.withTransaction(Effect.zipRight(
        sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`,
        sql`CREATE TABLE IF NOT EXISTS ${sql(MIGRATIONS_TABLE)} (
          migration_id integer primary key,
          created_at timestamp with time zone not null default now(),
          name text not null
        )`
      )),
    orElse: () => Effect.void
  })
  return yield* migrate({ loader: Migrator.fromRecord({ "1_create_job_queue": createQueue }), table: MIGRATIONS_TABLE })
})
