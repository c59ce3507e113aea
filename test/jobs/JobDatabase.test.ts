// The SQLite job database as it is opened at startup: a store that does not exist yet is made
// whole under a temporary name and only then given its name (src/jobs/JobDatabase.ts, createWhole);
// a store that exists is opened as it is, and one already migrated is not migrated again.
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as JobDatabase from "../../src/jobs/JobDatabase.js"
import * as JobsConfig from "../../src/jobs/JobsConfig.js"
import { captureLogs } from "../support/captureLogs.js"
import * as TestConfig from "../support/testConfig.js"

const freshDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "jobs-db-"))

/** The database layer on DATA_DIR=dir, built in the current scope. */
const open = (dir: string) =>
  Layer.build(JobDatabase.layer.pipe(Layer.provide(TestConfig.withEnv(JobsConfig.layer, { DATA_DIR: dir })))).pipe(
    Effect.map((context) => context.unsafeMap.get(SqlClient.SqlClient.key) as SqlClient.SqlClient)
  )

describe("JobDatabase on SQLite", () => {
  it.scoped("a fresh DATA_DIR gets a whole store: jobs.db migrated and in WAL mode, no temporary file left", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      const sql = yield* open(dir)
      expect(yield* sql`PRAGMA journal_mode`).toEqual([{ journal_mode: "wal" }])
      expect(yield* sql`PRAGMA synchronous`).toEqual([{ synchronous: 2 }]) // FULL
      expect((yield* sql`SELECT migration_id FROM effect_sql_migrations`).map((row) => row.migration_id)).toEqual([1])
      expect(Fs.readdirSync(dir).filter((name) => !/^jobs\.db(-wal|-shm)?$/.test(name))).toEqual([])
    }).pipe(Effect.provide(captureLogs().layer)))

  it.scoped("starts on one fresh DATA_DIR at once all end on the same store (none replaces another's)", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      const starts = yield* Effect.all(Array.from({ length: 4 }, () => open(dir)), { concurrency: "unbounded" })
      for (const [i, sql] of starts.entries()) yield* sql`INSERT INTO job_store_probe (id, probed_at) VALUES (${i}, 'written')`
      for (const sql of starts) expect(yield* sql`SELECT COUNT(*) AS n FROM job_store_probe`).toEqual([{ n: starts.length }])
      expect(Fs.readdirSync(dir).filter((name) => !/^jobs\.db(-wal|-shm)?$/.test(name))).toEqual([])
    }).pipe(Effect.provide(captureLogs().layer)))

  it.scoped("an existing store is opened as it is: what it holds is kept, and it is not migrated again", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      yield* Effect.scoped(Effect.flatMap(open(dir), (sql) => sql`INSERT INTO job_store_probe (id, probed_at) VALUES (1, 'kept')`))
      const sql = yield* open(dir)
      expect(yield* sql`SELECT probed_at FROM job_store_probe`).toEqual([{ probed_at: "kept" }])
      expect(yield* sql`SELECT COUNT(*) AS n FROM effect_sql_migrations`).toEqual([{ n: 1 }])
    }).pipe(Effect.provide(captureLogs().layer)))
})
