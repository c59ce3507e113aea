/**
 * The job "engine": an append-only journal of JSON lines in DATA_DIR and its in-memory view.
 * Owns: the journal file (opened, replayed, then appended to with group commit).
 * Does not own: its users. The worker pool and the routes use it; neither closes it.
 * Released when: its layer's scope closes, after the pool (which is acquired after it): every
 *   accepted append is flushed, synced and the file closed, once. Later writes fail with
 *   JobStoreClosed.
 */
import { Clock, Context, Data, Effect, Layer, Option } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { AppConfig } from "../config/AppConfig.js"
import { Journal } from "./Journal.js"

export type JobState = "queued" | "running" | "done" | "failed"

export interface Job {
  readonly id: string
  readonly ms: number
  readonly payload: unknown
  readonly state: JobState
  readonly acceptedAt: string
  readonly updatedAt: string
  readonly error?: string
}

export class JobStoreClosed extends Data.TaggedError("JobStoreClosed")<{}> {
  override get message() {
    return "the job store is closed"
  }
}

export class JobStoreError extends Data.TaggedError("JobStoreError")<{
  readonly reason: "Open" | "Write" | "Close"
  readonly cause: unknown
}> {}

type JournalRecord =
  | { readonly op: "accept"; readonly id: string; readonly ms: number; readonly payload: unknown; readonly at: string }
  | { readonly op: "state"; readonly id: string; readonly state: JobState; readonly at: string; readonly error?: string }

export class JobStore extends Context.Tag("app/JobStore")<JobStore, {
  /** Journals a new job as queued; succeeds only once the record is synced to disk. */
  readonly accept: (input: { readonly ms: number; readonly payload: unknown }) => Effect.Effect<Job, JobStoreClosed | JobStoreError>
  /** Journals a state change (synced); the in-memory view follows the file, not the caller. */
  readonly transition: (id: string, state: JobState, error?: string) => Effect.Effect<void, JobStoreClosed | JobStoreError>
  readonly get: (id: string) => Option.Option<Job>
  /** Jobs accepted but not finished (queued or running), in acceptance order: to resume on start. */
  readonly unfinished: () => ReadonlyArray<Job>
  /** Idempotent. The layer calls it on release; calling it again (or early) is safe. */
  readonly close: Effect.Effect<void, JobStoreError>
}>() {}

export const journalFile = (dataDir: string) => Path.join(dataDir, "jobs.jsonl")

const apply = (jobs: Map<string, Job>, record: JournalRecord) => {
  if (record.op === "accept") {
    jobs.set(record.id, { id: record.id, ms: record.ms, payload: record.payload, state: "queued", acceptedAt: record.at, updatedAt: record.at })
    return
  }
  const job = jobs.get(record.id)
  if (job === undefined) return
  const { error: _, ...rest } = job
  jobs.set(record.id, { ...rest, state: record.state, updatedAt: record.at, ...(record.error === undefined ? {} : { error: record.error }) })
}

/** Reads the journal; a torn last line (a crash mid-write) is cut off so appends start clean. */
const replay = (file: string, jobs: Map<string, Job>) =>
  Effect.gen(function*() {
    const text = yield* Effect.tryPromise(() => Fs.readFile(file, "utf8")).pipe(
      Effect.catchAll((error) => (error.error as NodeJS.ErrnoException).code === "ENOENT" ? Effect.succeed("") : Effect.fail(error))
    )
    const complete = text.slice(0, text.lastIndexOf("\n") + 1)
    if (complete.length < text.length) {
      yield* Effect.logWarning("job journal: torn last line skipped").pipe(
        Effect.annotateLogs({ file, bytes: Buffer.byteLength(text.slice(complete.length)) })
      )
      yield* Effect.tryPromise(() => Fs.truncate(file, Buffer.byteLength(complete)))
    }
    let skipped = 0
    for (const line of complete.split("\n")) {
      if (line === "") continue
      try {
        apply(jobs, JSON.parse(line) as JournalRecord)
      } catch {
        skipped += 1
      }
    }
    if (skipped > 0) yield* Effect.logWarning("job journal: unreadable lines skipped").pipe(Effect.annotateLogs({ file, skipped }))
    return jobs
  }).pipe(Effect.mapError((cause) => new JobStoreError({ reason: "Open", cause })))

export const make = (dataDir: string) =>
  Effect.gen(function*() {
    const file = journalFile(dataDir)
    yield* Effect.tryPromise({ try: () => Fs.mkdir(dataDir, { recursive: true }), catch: (cause) => new JobStoreError({ reason: "Open", cause }) })
    const jobs = yield* replay(file, new Map())
    const handle = yield* Effect.tryPromise({ try: () => Fs.open(file, "a"), catch: (cause) => new JobStoreError({ reason: "Open", cause }) })
    const journal = new Journal(handle)
    let closing: Promise<void> | undefined

    const write = (record: JournalRecord) =>
      Effect.suspend((): Effect.Effect<void, JobStoreClosed | JobStoreError> =>
        closing !== undefined
          ? Effect.fail(new JobStoreClosed())
          : Effect.tryPromise({
            try: () => journal.append(record).then(() => apply(jobs, record)),
            catch: (cause) => new JobStoreError({ reason: "Write", cause })
          })
      )
    const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms).toISOString())

    const close: Effect.Effect<void, JobStoreError> = Effect.suspend(() => {
      closing ??= journal.close()
      return Effect.tryPromise({ try: () => closing!, catch: (cause) => new JobStoreError({ reason: "Close", cause }) })
    })

    yield* Effect.logInfo("job journal opened").pipe(Effect.annotateLogs({ file, jobs: jobs.size }))
    return JobStore.of({
        accept: ({ ms, payload }) =>
          Effect.gen(function*() {
            const record: JournalRecord = { op: "accept", id: crypto.randomUUID(), ms, payload, at: yield* now }
            yield* write(record)
            return jobs.get(record.id)!
          }),
        transition: (id, state, error) =>
          Effect.flatMap(now, (at) => write({ op: "state", id, state, at, ...(error === undefined ? {} : { error }) })),
        get: (id) => Option.fromNullable(jobs.get(id)),
        unfinished: () => Array.from(jobs.values()).filter((job) => job.state === "queued" || job.state === "running"),
        close
    })
  })

export const layer = Layer.scoped(
  JobStore,
  Effect.gen(function*() {
    const config = yield* AppConfig
    return yield* Effect.acquireRelease(
      make(config.dataDir),
      (store) =>
        store.close.pipe(
          Effect.zipRight(Effect.logInfo("job journal closed")),
          Effect.catchAll((error) => Effect.logError("job journal: close failed", error))
        )
    )
  })
)
