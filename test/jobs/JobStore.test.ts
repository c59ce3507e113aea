// The job store on both databases: what is committed, the bound counted in the store, a store
// that cannot write, migrations racing, pruning.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Option } from "effect"
import { QUEUE_TABLE } from "../../src/jobs/JobMigrations.js"
import { captureLogs } from "../support/captureLogs.js"
import { leakCheck } from "../support/LeakCheck.js"
import { postgresUrl, query } from "../support/postgres.js"
import { proxiedPostgres } from "../support/TcpProxy.js"
import { freshStore, postgres, startStore, storeKinds } from "./jobStores.js"

describe.each(storeKinds)("JobStore on $name", (kind) => {
  it.live("a submitted job is committed: a new store on the same database reads it back queued; an unknown id is None", () =>
    leakCheck(Effect.gen(function*() {
      const where = yield* freshStore(kind)
      const first = yield* startStore({ store: where })
      const id = yield* first.store.submit({ ms: 5, payload: { n: 1 } })
      yield* first.stop
      const second = yield* startStore({ store: where })
      const job = Option.getOrThrow(yield* second.store.get(id))
      expect(job).toMatchObject({ id, state: "queued", ms: 5, payload: { n: 1 }, attempts: 0 })
      expect(Date.parse(job.acceptedAt)).not.toBeNaN()
      expect(Date.parse(job.updatedAt)).not.toBeNaN()
      expect(yield* second.store.get("no-such-job")).toEqual(Option.none())
      yield* second.stop
    }).pipe(Effect.provide(captureLogs().layer))), 20_000)

  it.live("starting leaves no row behind (the claim-id probe deletes its own) and learns the id this replica claims under", () =>
    leakCheck(Effect.gen(function*() {
      const { sql, stop, store } = yield* startStore({ store: yield* freshStore(kind) })
      const rows = yield* sql<{ readonly n: number | string }>`SELECT COUNT(*) AS n FROM ${sql(QUEUE_TABLE)}`
      expect(Number(rows[0]?.n)).toBe(0)
      const id = yield* store.submit({ ms: 1, payload: null })
      // complete is fenced on the learnt id: true only if it is the one the queue claimed under.
      expect(yield* store.take((_, meta) => store.complete(meta.id, meta.attempts + 1))).toBe(true)
      expect(Option.getOrThrow(yield* store.get(id)).state).toBe("done")
      yield* stop
    }).pipe(Effect.provide(captureLogs().layer))), 20_000)

  it.live("the bound is counted in the store: a second store on the same database is refused once the first filled it", () =>
    leakCheck(Effect.gen(function*() {
      const where = yield* freshStore(kind)
      const a = yield* startStore({ store: where, config: { JOB_QUEUE_SIZE: "2" } })
      const b = yield* startStore({ store: where, config: { JOB_QUEUE_SIZE: "2" } })
      // A replica configured for one more (a rolling update that raised JOB_QUEUE_SIZE).
      const c = yield* startStore({ store: where, config: { JOB_QUEUE_SIZE: "3" } })
      yield* a.store.submit({ ms: 1, payload: null })
      yield* a.store.submit({ ms: 1, payload: null })
      const refused = yield* Effect.either(b.store.submit({ ms: 1, payload: null }))
      expect(Either.isLeft(refused) && refused.left).toMatchObject({ _tag: "QueueFull", capacity: 2 })
      expect(Either.isRight(yield* Effect.either(c.store.submit({ ms: 1, payload: null })))).toBe(true)
      yield* a.stop
      yield* b.stop
      yield* c.stop
    }).pipe(Effect.provide(captureLogs().layer))), 20_000)

  it.live("concurrent submits never overfill the bound", () =>
    leakCheck(Effect.gen(function*() {
      const { stop, store } = yield* startStore({ store: yield* freshStore(kind), config: { JOB_QUEUE_SIZE: "5" } })
      const results = yield* Effect.forEach(
        Array.from({ length: 12 }, () => Effect.either(store.submit({ ms: 1, payload: null }))),
        (submit) => submit,
        { concurrency: "unbounded" }
      )
      expect(results.filter(Either.isRight)).toHaveLength(5)
      expect(results.filter(Either.isLeft).map((result) => result.left._tag)).toEqual(Array(7).fill("QueueFull"))
      yield* stop
    }).pipe(Effect.provide(captureLogs().layer))), 20_000)

  it.live("finished jobs older than JOB_RETENTION_MS are pruned; unfinished ones never are", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const where = yield* freshStore(kind)
      const first = yield* startStore({ store: where })
      const done = yield* first.store.submit({ ms: 1, payload: null })
      const queued = yield* first.store.submit({ ms: 1, payload: null })
      // As if it had finished two days ago.
      const longAgo = kind.name === "postgres" ? first.sql`NOW() - INTERVAL '2 days'` : first.sql`datetime('now', '-2 days')`
      yield* first.sql`UPDATE ${first.sql(QUEUE_TABLE)} SET completed = TRUE, updated_at = ${longAgo} WHERE id = ${done}`
      yield* first.sql`UPDATE ${first.sql(QUEUE_TABLE)} SET updated_at = ${longAgo} WHERE id = ${queued}`
      yield* first.stop
      const second = yield* startStore({ store: where, config: { JOB_RETENTION_MS: "86400000" } })
      // Either store's monitor may have pruned it (both prune when they start): wait for the outcome.
      for (let i = 0; i < 500 && Option.isSome(yield* second.store.get(done)); i++) yield* Effect.sleep("20 millis")
      expect(yield* second.store.get(done)).toEqual(Option.none())
      expect(Option.getOrThrow(yield* second.store.get(queued)).state).toBe("queued")
      yield* second.stop
    }).pipe(Effect.provide(logs.layer)))
  }, 20_000)
})

describe("JobStore on sqlite", () => {
  // Catches: a store opened without WAL (readers wait on the writer) or with synchronous below
  // FULL (a power loss could take back a commit that was already answered 202).
  it.live("the database is opened in WAL mode with synchronous = FULL", () =>
    leakCheck(Effect.gen(function*() {
      const { sql, stop } = yield* startStore({ store: yield* freshStore(storeKinds[0]!) })
      expect(yield* sql`PRAGMA journal_mode`).toEqual([{ journal_mode: "wal" }])
      expect(yield* sql`PRAGMA synchronous`).toEqual([{ synchronous: 2 }]) // 2 = FULL
      yield* stop
    }).pipe(Effect.provide(captureLogs().layer))), 20_000)

  it.live("a store that cannot write: submit fails StoreUnavailable (nothing committed), /readyz's check says so, and both recover by themselves", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const { sql, stop, store } = yield* startStore({ store: yield* freshStore(storeKinds[0]!) })
      expect(store.unsafeNotReady()).toBeUndefined()
      yield* sql`PRAGMA query_only = ON` // every write now fails, as on a full disk
      const refused = yield* Effect.either(store.submit({ ms: 1, payload: null }))
      expect(Either.isLeft(refused) && refused.left._tag).toBe("StoreUnavailable")
      expect(store.unsafeNotReady()).toBe("the job store is unreachable")
      yield* logs.waitForLine((line) => line.message === "job store unreachable", 5_000)
      yield* sql`PRAGMA query_only = OFF`
      yield* logs.waitForLine((line) => line.message === "job store reachable again", 5_000)
      expect(store.unsafeNotReady()).toBeUndefined()
      const id = yield* store.submit({ ms: 1, payload: null })
      expect(Option.getOrThrow(yield* store.get(id)).state).toBe("queued")
      yield* stop
    }).pipe(Effect.provide(logs.layer)))
  }, 20_000)
})

describe.skipIf(postgresUrl === null)("JobStore on postgres", () => {
  it.live("replicas starting at once on an empty database: every one migrates or waits, the schema is made once", () =>
    leakCheck(Effect.gen(function*() {
      const where = yield* freshStore(postgres)
      const stores = yield* Effect.all(Array.from({ length: 4 }, () => startStore({ store: where })), { concurrency: "unbounded" })
      const url = where.DATABASE_URL!
      const migrations = yield* Effect.promise(() => query<{ migration_id: number }>(url, "SELECT migration_id FROM effect_sql_migrations"))
      expect(migrations).toEqual([{ migration_id: 1 }])
      yield* Effect.forEach(stores, (store) => store.stop)
    }).pipe(Effect.provide(captureLogs().layer))), 30_000)

  it.live("the database goes away: submit and get fail StoreUnavailable at once, readiness follows, and comes back with it", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const { proxy, url: viaProxy } = yield* proxiedPostgres
      const { stop, store } = yield* startStore({ store: { DATABASE_URL: viaProxy } })
      const before = yield* store.submit({ ms: 1, payload: null })
      yield* Effect.promise(() => proxy.cut())
      const refused = yield* Effect.either(store.submit({ ms: 1, payload: null }))
      expect(Either.isLeft(refused) && refused.left._tag).toBe("StoreUnavailable")
      const unread = yield* Effect.either(store.get(before))
      expect(Either.isLeft(unread) && unread.left._tag).toBe("StoreUnavailable")
      expect(store.unsafeNotReady()).toBe("the job store is unreachable")
      yield* logs.waitForLine((line) => line.message === "job store unreachable", 10_000)
      yield* Effect.promise(() => proxy.restore())
      yield* logs.waitForLine((line) => line.message === "job store reachable again", 15_000)
      expect(store.unsafeNotReady()).toBeUndefined()
      expect(Option.getOrThrow(yield* store.get(before)).state).toBe("queued")
      yield* stop
    }).pipe(Effect.scoped, Effect.provide(logs.layer)))
  }, 40_000)
})
