/**
 * The job store: @effect/experimental's PersistedQueue on @effect/sql's SQL store (a row per job,
 * claimed with FOR UPDATE SKIP LOCKED on Postgres, by one UPDATE on SQLite; a claim expires after
 * JOB_LEASE_MS; attempts and the last failure kept), plus what the queue does not offer: a bound
 * counted in the store, a job's state by id, lease renewal, pruning, and a health probe.
 * Owns: the queue's store (its poller fiber and claim bookkeeping) and the store monitor fiber.
 * Does not own: the SQL client (JobDatabase, acquired before it) or the workers (WorkerPool,
 *   acquired after it, which call `take`).
 * Released when: its layer's scope closes, after the pool (which already called stopTaking):
 *   the monitor stops, and the queue releases any claim it still holds, so another replica or
 *   the next start takes those jobs at once.
 *
 * Why lease renewal is ours: SqlPersistedQueue 0.52.1 has a lock-refresh fiber, but the set of
 * ids it refreshes is never filled, so a job running longer than the lease would be claimed by
 * a second worker while the first still runs it. WorkerPool renews its running jobs' leases with
 * `keepLeases`.
 */
import { PersistedQueue } from "@effect/experimental"
import { SqlClient, SqlPersistedQueue } from "@effect/sql"
import {
  Cause,
  Chunk,
  Context,
  Deferred,
  Duration,
  Effect,
  ExecutionStrategy,
  Exit,
  Layer,
  Option,
  type ParseResult,
  Queue,
  Schedule,
  Schema,
  Scope
} from "effect"
import { status } from "../http/public/ApiErrors.js"
import { JobsConfig } from "./JobsConfig.js"
import { FiberRegistry } from "../lifecycle/FiberRegistry.js"
import * as JobMetrics from "./JobMetrics.js"
import { PROBE_TABLE, QUEUE_TABLE } from "./JobMigrations.js"
import * as ScopeFinalizer from "../lifecycle/ScopeFinalizer.js"

export type JobState = "queued" | "running" | "done" | "failed"

/** What is stored for a job (the queue's element). */
export const JobInput = Schema.Struct({ ms: Schema.Number, payload: Schema.Unknown, acceptedAt: Schema.String })
export type JobInput = typeof JobInput.Type

export interface Job {
  readonly id: string
  readonly state: JobState
  readonly ms: number
  readonly payload: unknown
  /** Runs that ended (failed, or the one that completed it). */
  readonly attempts: number
  readonly acceptedAt: string
  readonly updatedAt: string
  readonly error?: string
}

/** One class from the store to the wire (429 there, `{error, message}`: see JobsApi); `capacity`
 * is what the store counted, for logs and tests (the wire carries the message only). */
export class QueueFull extends Schema.TaggedError<QueueFull>()("QueueFull", {
  message: Schema.String,
  capacity: Schema.optional(Schema.Number)
}, status(429)) {}

/** The store could not be written or read (disk full, database down): the job is not known to be
 * stored (a commit whose answer was lost may still have stored it; README, at-least-once).
 * One class from the store to the wire (503 there); `cause` is logged, never sent. */
export class StoreUnavailable extends Schema.TaggedError<StoreUnavailable>()("StoreUnavailable", {
  message: Schema.String,
  cause: Schema.optional(Schema.Unknown)
}, status(503)) {}

const unavailableBecause = (cause: unknown) => {
  const squashed = Cause.isCause(cause) ? Cause.squash(cause) : cause
  return new StoreUnavailable({
    cause,
    message: `the job store is unavailable: ${squashed instanceof Error ? squashed.message : String(squashed)}`
  })
}

interface Pending {
  readonly input: JobInput
  readonly result: Deferred.Deferred<string, QueueFull | StoreUnavailable>
}

/** The most submits one commit takes. */
const MAX_BATCH = 256

export const QUEUE_NAME = "jobs"
/** How often an idle worker's claim query runs (the queue's default is 1 s). */
const POLL_INTERVAL = Duration.millis(50)
const PROBE_INTERVAL = Duration.seconds(1)
/** A probe slower than this counts as a failure (a database that hangs is not ready either). */
const PROBE_TIMEOUT = Duration.seconds(3)
const PRUNE_INTERVAL = Duration.hours(1)
/** pg_advisory_xact_lock key serialising count-then-insert across replicas. */
const SUBMIT_LOCK = 0x6a6f6275

export class JobStore extends Context.Tag("app/JobStore")<JobStore, {
  /** Commits the job (or fails): QueueFull when unfinished jobs, counted in the store, reach
   * JOB_QUEUE_SIZE. */
  readonly submit: (input: { readonly ms: number; readonly payload: unknown }) => Effect.Effect<string, QueueFull | StoreUnavailable>
  readonly get: (id: string) => Effect.Effect<Option.Option<Job>, StoreUnavailable>
  /** PersistedQueue.take: f's success completes the job, its failure counts an attempt (retried
   * until JOB_MAX_ATTEMPTS), its interruption releases the claim at once. */
  readonly take: <A, E, R>(
    f: (input: JobInput, meta: { readonly id: string; readonly attempts: number }) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | PersistedQueue.PersistedQueueError | ParseResult.ParseError, R>
  /** Records a run's success if this replica still holds the job: true when recorded; false when
   * its claim was lost (the lease ran out and another worker took the job, which records it). */
  readonly complete: (id: string, attempts: number) => Effect.Effect<boolean, StoreUnavailable>
  /** Renews this replica's claims on these jobs (still unfinished) for another lease. */
  readonly keepLeases: (ids: ReadonlyArray<string>) => Effect.Effect<void, StoreUnavailable>
  /** Hands back every job this replica has claimed but does not run (`running`): for the end of
   * a drain, when a claim query cut short by stopTaking may still have claimed rows. */
  readonly releaseClaims: (running: ReadonlyArray<string>) => Effect.Effect<void, StoreUnavailable>
  /** Stops claiming: the queue's poller ends and every job it fetched for a taker that was
   * interrupted before starting it is released at once. Takes already running still complete
   * (their completion is written with the client, not the poller). Idempotent.
   * Why: a taker interrupted while waiting leaves the queue's taker count raised (a known gap in
   * PersistedQueue 0.61.1), so its poller would go on claiming jobs nobody runs until the store
   * closed; on a draining replica that would hold jobs back from the others for the whole drain. */
  readonly stopTaking: Effect.Effect<void>
  /** Synchronous, for /readyz: why the store is not usable right now, or undefined. */
  readonly unsafeNotReady: () => string | undefined
}>() {}

interface Row {
  readonly id: string
  readonly element: string
  readonly completed: boolean | number
  readonly attempts: number
  readonly last_failure: string | null
  readonly leased: number
  readonly updated_at: string | Date
}

/** SQLite keeps "YYYY-MM-DD HH:MM:SS" (UTC); Postgres gives a Date. */
const isoOf = (value: string | Date) =>
  value instanceof Date ? value.toISOString() : new Date(`${value.replace(" ", "T")}Z`).toISOString()

/** The first line of what the queue recorded (Cause.pretty), without the error's class name. */
const errorOf = (lastFailure: string | null) =>
  lastFailure === null ? undefined : (lastFailure.split("\n")[0] ?? "").replace(/^(Error|JobCrashed): /, "")

/**
 * The id this replica's queue claims rows under (SqlPersistedQueue keeps it private): a row
 * offered on a queue name of its own, taken through the same store, shows it in acquired_by.
 * Nobody else takes that queue, so the answer is certain. The row is deleted while still taken,
 * reading acquired_by in the same statement: the queue's completion when the take ends then finds
 * no row to update, so the probe costs three commits at startup (offer, claim, delete), not four.
 */
const learnClaimId = (sql: SqlClient.SqlClient, queueStore: PersistedQueue.PersistedQueueStore["Type"]) =>
  Effect.gen(function*() {
    const name = `${QUEUE_NAME}.whoami.${crypto.randomUUID()}`
    const id = crypto.randomUUID()
    yield* queueStore.offer({ name, id, element: null, isCustomId: true })
    const rows = yield* Effect.scoped(Effect.zipRight(
      queueStore.take({ name, maxAttempts: 1 }),
      sql<{ readonly acquired_by: string }>`DELETE FROM ${sql(QUEUE_TABLE)} WHERE id = ${id} RETURNING acquired_by`
    ))
    const claimedBy = rows[0]?.acquired_by
    if (claimedBy === undefined || claimedBy === null) return yield* Effect.dieMessage("JobStore: the queue claimed its probe row under no id")
    return String(claimedBy)
  })

export const make = Effect.gen(function*() {
  const config = yield* JobsConfig
  const sql = yield* SqlClient.SqlClient
  const registry = yield* FiberRegistry
  const leaseSeconds = Math.ceil(config.jobLeaseMs / 1000)
  const maxAttempts = config.jobMaxAttempts
  const capacity = config.jobQueueSize

  // The queue's claiming side (its poller and the rows fetched for takers) in a scope of its own,
  // so the pool can stop it before its running jobs end (see stopTaking).
  const queueScope = yield* Effect.flatMap(Effect.scope, (scope) => Scope.fork(scope, ExecutionStrategy.sequential))
  const queueStore = yield* SqlPersistedQueue.make({
    tableName: QUEUE_TABLE,
    pollInterval: POLL_INTERVAL,
    lockExpiration: Duration.seconds(leaseSeconds)
  }).pipe(Scope.extend(queueScope))
  const queue = yield* PersistedQueue.makeFactory.pipe(
    Effect.flatMap((factory) => factory.make({ name: QUEUE_NAME, schema: JobInput })),
    Effect.provideService(PersistedQueue.PersistedQueueStore, queueStore)
  )

  const table = sql(QUEUE_TABLE)
  const claimedBy = yield* learnClaimId(sql, queueStore)
  const now = sql.onDialectOrElse({ pg: () => sql.literal("NOW()"), orElse: () => sql.literal("CURRENT_TIMESTAMP") })
  const secondsAgo = (seconds: number) =>
    sql.onDialectOrElse({
      pg: () => sql`NOW() - ${sql.literal(`INTERVAL '${seconds} seconds'`)}`,
      orElse: () => sql`datetime(CURRENT_TIMESTAMP, ${sql.literal(`'-${seconds} seconds'`)})`
    })
  const isPostgres = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
  const unfinished = sql`completed = FALSE AND attempts < ${maxAttempts}`

  let notReady: string | undefined
  const unavailable = (cause: unknown) => {
    const error = unavailableBecause(cause)
    notReady ??= "the job store is unreachable"
    return error
  }
  /** SQL errors and the client's defects (a failed COMMIT) both mean: not stored, not read. */
  const orUnavailable = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, StoreUnavailable, R> =>
    self.pipe(Effect.mapError(unavailable), Effect.catchAllDefect((defect) => Effect.fail(unavailable(defect))))

  const countUnfinished = Effect.map(
    sql<{ readonly n: number | string }>`SELECT COUNT(*) AS n FROM ${table} WHERE queue_name = ${QUEUE_NAME} AND ${unfinished}`,
    (rows) => Number(rows[0]?.n ?? 0)
  )

  // Group commit: submits that arrive while a commit is in flight share the next one (one flush
  // to disk, one advisory lock for all of them). Each keeps its own answer, in arrival order.
  const pending = yield* Queue.unbounded<Pending>()
  const commitBatch = (batch: ReadonlyArray<Pending>) =>
    sql.withTransaction(Effect.gen(function*() {
      // The count and the inserts see the same queue. On Postgres the advisory lock makes replicas
      // take turns; SQLite has one writer (and one connection per process).
      if (isPostgres) yield* sql`SELECT pg_advisory_xact_lock(${SUBMIT_LOCK})`
      let waiting = yield* countUnfinished
      const outcomes: Array<Exit.Exit<string, QueueFull>> = []
      for (const { input } of batch) {
        if (waiting >= capacity) {
          outcomes.push(Exit.fail(new QueueFull({ capacity, message: `the job queue is full (${capacity} unfinished); retry later` })))
          continue
        }
        outcomes.push(Exit.succeed(yield* queue.offer(input)))
        waiting += 1
      }
      JobMetrics.setDepth(waiting)
      return outcomes
    })).pipe(
      // Answered only once the commit succeeded; any failure (a failed COMMIT is a defect of the
      // client) means none of them is stored.
      Effect.matchCauseEffect({
        onSuccess: (outcomes) => Effect.sync(() => batch.forEach(({ result }, i) => Deferred.unsafeDone(result, outcomes[i]!))),
        onFailure: (cause) => Effect.sync(() => batch.forEach(({ result }) => Deferred.unsafeDone(result, Exit.fail(unavailable(cause)))))
      }),
      // Interrupted mid-commit (the store is closing): nobody waits forever; no-op for the answered.
      Effect.onInterrupt(() => Effect.sync(() => batch.forEach(({ result }) => Deferred.unsafeDone(result, Exit.fail(unavailable("the job store closed"))))))
    )
  // Added before the committer is forked, so it runs after it stopped: whoever still waits is answered.
  yield* ScopeFinalizer.add(() =>
    Effect.flatMap(Queue.takeAll(pending), (left) =>
      Effect.sync(() => Chunk.forEach(left, ({ result }) => Deferred.unsafeDone(result, Exit.fail(unavailable("the job store closed"))))))
  )
  yield* registry.fork("jobs.submit-committer", "jobs")(
    Effect.forever(Effect.flatMap(Queue.takeBetween(pending, 1, MAX_BATCH), (batch) => commitBatch(Chunk.toReadonlyArray(batch))))
  )

  // submit and get run once per request (POST /jobs, GET /jobs/:id): Effect.fnUntraced, no span
  // of their own (the request's span covers them). Measured in one run: Effect.fn's span costs
  // about 6x a plain Effect.gen call; fnUntraced is no slower than Effect.gen.
  const submit = Effect.fnUntraced(function*(input: { readonly ms: number; readonly payload: unknown }) {
    const acceptedAt = new Date(yield* Effect.clockWith((clock) => clock.currentTimeMillis)).toISOString()
    const result = yield* Deferred.make<string, QueueFull | StoreUnavailable>()
    yield* Queue.offer(pending, { input: { ms: input.ms, payload: input.payload, acceptedAt }, result })
    // Interrupted here (the client went away), the job may still be committed and run.
    return yield* Deferred.await(result)
  })

  const get = Effect.fnUntraced(function*(id: string) {
    const rows = yield* sql<Row>`
      SELECT id, element, completed, attempts, last_failure, updated_at,
        CASE WHEN acquired_at IS NOT NULL AND acquired_at >= ${secondsAgo(leaseSeconds)} THEN 1 ELSE 0 END AS leased
      FROM ${table} WHERE queue_name = ${QUEUE_NAME} AND id = ${id}
    `
    return Option.map(Option.fromNullable(rows[0]), (row): Job => {
      const input = JSON.parse(row.element) as JobInput
      const done = row.completed === true || row.completed === 1
      const failed = !done && row.attempts >= maxAttempts
      const error = failed ? errorOf(row.last_failure) : undefined
      return {
        id: row.id,
        state: done ? "done" : failed ? "failed" : Number(row.leased) === 1 ? "running" : "queued",
        ms: input.ms,
        payload: input.payload,
        attempts: row.attempts,
        acceptedAt: input.acceptedAt,
        // SQLite keeps whole seconds: never earlier than the acceptance it follows.
        updatedAt: [input.acceptedAt, isoOf(row.updated_at)].sort()[1]!,
        ...(error === undefined ? {} : { error })
      }
    })
  }, orUnavailable)

  // The queue's own completion is fenced on the claim too but says nothing about whether it
  // recorded anything; this one returns the row it completed, so a run whose claim was lost is
  // known as such (and the queue's completion after it finds nothing to update).
  const complete = Effect.fn("JobStore.complete")(function*(id: string, attempts: number) {
    const rows = yield* sql<{ readonly id: string }>`
      UPDATE ${table}
      SET completed = TRUE, acquired_at = NULL, acquired_by = NULL, attempts = ${attempts}, updated_at = ${now}
      WHERE queue_name = ${QUEUE_NAME} AND id = ${id} AND acquired_by = ${claimedBy} AND completed = FALSE
      RETURNING id
    `
    return rows.length === 1
  }, orUnavailable)

  const keepLeases = Effect.fn("JobStore.keepLeases")(function*(ids: ReadonlyArray<string>) {
    if (ids.length === 0) return
    yield* sql`
      UPDATE ${table} SET acquired_at = ${now}
      WHERE queue_name = ${QUEUE_NAME} AND ${sql.in("id", ids)} AND acquired_by = ${claimedBy} AND completed = FALSE
    `
  }, orUnavailable)

  const releaseClaims = Effect.fn("JobStore.releaseClaims")(function*(running: ReadonlyArray<string>) {
    yield* sql`
      UPDATE ${table} SET acquired_at = NULL, acquired_by = NULL
      WHERE queue_name = ${QUEUE_NAME} AND acquired_by = ${claimedBy} AND completed = FALSE
      ${running.length === 0 ? sql`` : sql`AND NOT ${sql.in("id", running)}`}
    `
  }, orUnavailable)

  // The monitor: a real write (a disk that is full or a database that refuses writes fails it),
  // the queue depth for /metrics, and now and then the pruning of finished jobs.
  const probe = Effect.gen(function*() {
    const at = new Date(yield* Effect.clockWith((clock) => clock.currentTimeMillis)).toISOString()
    yield* sql`INSERT INTO ${sql(PROBE_TABLE)} (id, probed_at) VALUES (1, ${at})
      ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at`
    JobMetrics.setDepth(yield* countUnfinished)
  })
  const retentionSeconds = Math.ceil(config.jobRetentionMs / 1000)
  const prune = Effect.gen(function*() {
    const removed = yield* sql<{ readonly id: string }>`
      DELETE FROM ${table}
      WHERE queue_name = ${QUEUE_NAME} AND (completed = TRUE OR attempts >= ${maxAttempts})
      AND updated_at < ${secondsAgo(retentionSeconds)}
      RETURNING id
    `
    if (removed.length > 0) {
      yield* Effect.logInfo("finished jobs pruned").pipe(Effect.annotateLogs({ jobs: removed.length, olderThanSeconds: retentionSeconds }))
    }
  })
  let down = false
  let lastPrune = Number.NEGATIVE_INFINITY
  const monitorOnce = Effect.gen(function*() {
    const exit = yield* Effect.exit(Effect.timeoutFail(probe, { duration: PROBE_TIMEOUT, onTimeout: () => new Error("the probe timed out") }))
    if (Exit.isFailure(exit)) {
      if (!down) yield* Effect.logWarning("job store unreachable", exit.cause)
      down = true
      notReady = "the job store is unreachable"
      return
    }
    if (down) yield* Effect.logInfo("job store reachable again")
    down = false
    notReady = undefined
    const at = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
    if (at - lastPrune >= Duration.toMillis(PRUNE_INTERVAL)) {
      lastPrune = at
      yield* prune.pipe(Effect.catchAllCause((cause) => Effect.logWarning("pruning finished jobs failed", cause)))
    }
  })
  yield* registry.fork("jobs.store-monitor", "jobs")(Effect.repeat(monitorOnce, Schedule.spaced(PROBE_INTERVAL)))

  return JobStore.of({
    submit,
    get,
    take: (f) => queue.take(f, { maxAttempts }).pipe(Effect.withSpan("JobStore.take")),
    complete,
    keepLeases,
    releaseClaims,
    stopTaking: Scope.close(queueScope, Exit.void).pipe(Effect.withSpan("JobStore.stopTaking")),
    unsafeNotReady: () => notReady
  })
})

export const layer = Layer.scoped(JobStore, make)
