// A double of the SQL client for a disk that fills up, where mounting a small tmpfs is not
// possible (not root): the real SQLite client of JobDatabase.layer underneath, and a switch the
// test flips. While it is on, what a full disk refuses fails the way the driver fails:
// - "writes": every INSERT, UPDATE or DELETE fails (SQLITE_FULL at the statement);
// - "commit": statements inside a transaction pass, but its COMMIT is rolled back and fails
//   (the disk filled while the WAL was written out); a write outside a transaction fails.
// Reads always pass. Nothing the double refuses is stored: a refused COMMIT really rolls back.
import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlClient, type SqlConnection, SqlError, Statement } from "@effect/sql"
import { Effect, Layer } from "effect"
import * as JobDatabase from "../../src/jobs/JobDatabase.js"

export type FailureMode = "none" | "writes" | "commit"

export interface DiskSwitch {
  mode: FailureMode
  /** Statements and commits refused so far. */
  refused: number
}

const isWrite = (sql: string) => /^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i.test(sql)
const isCommit = (sql: string) => /^\s*(COMMIT|END)\b/i.test(sql)
const isBegin = (sql: string) => /^\s*BEGIN\b/i.test(sql)
const isRollback = (sql: string) => /^\s*ROLLBACK\s*$/i.test(sql)

const full = (sql: string) =>
  new SqlError.SqlError({ cause: Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" }), message: `Failed to execute statement: ${sql.slice(0, 40)}` })

/** Wraps one connection; `inTransaction` follows its BEGIN / COMMIT / ROLLBACK. */
const wrap = (inner: SqlConnection.Connection, disk: DiskSwitch): SqlConnection.Connection => {
  let inTransaction = false
  const guard = <A>(sql: string, run: Effect.Effect<A, SqlError.SqlError>): Effect.Effect<A, SqlError.SqlError> =>
    Effect.suspend(() => {
      if (isBegin(sql)) inTransaction = true
      else if (isRollback(sql)) inTransaction = false
      else if (isCommit(sql)) {
        inTransaction = false
        if (disk.mode !== "none") {
          disk.refused += 1
          return Effect.zipRight(Effect.orDie(inner.executeUnprepared("ROLLBACK", [], undefined)), Effect.fail(full(sql)))
        }
      } else if (isWrite(sql) && (disk.mode === "writes" || (disk.mode === "commit" && !inTransaction))) {
        disk.refused += 1
        return Effect.fail(full(sql))
      }
      return run
    })
  return {
    execute: (sql, params, transformRows) => guard(sql, inner.execute(sql, params, transformRows)),
    executeRaw: (sql, params) => guard(sql, inner.executeRaw(sql, params)),
    executeStream: (sql, params, transformRows) => inner.executeStream(sql, params, transformRows),
    executeValues: (sql, params) => guard(sql, inner.executeValues(sql, params)),
    executeUnprepared: (sql, params, transformRows) => guard(sql, inner.executeUnprepared(sql, params, transformRows))
  }
}

/** JobDatabase.layer (SQLite in DATA_DIR, migrated) seen through the switch. */
export const failingDatabase = (disk: DiskSwitch) =>
  Layer.effect(
    SqlClient.SqlClient,
    Effect.gen(function*() {
      const inner = yield* SqlClient.SqlClient
      // One connection underneath; `reserve` holds it (its lock) for the statement or transaction.
      const connection = Effect.map(inner.reserve, (conn) => wrap(conn, disk))
      return yield* SqlClient.make({
        acquirer: connection,
        transactionAcquirer: connection,
        compiler: Statement.makeCompilerSqlite(),
        spanAttributes: [["db.system.name", "sqlite"]]
      })
    })
  ).pipe(Layer.provide(Reactivity.layer), Layer.provide(JobDatabase.layer))
