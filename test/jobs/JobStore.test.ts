import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit, Option, Scope } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { journalFile, make } from "../../src/jobs/JobStore.js"
import { captureLogs } from "../support/captureLogs.js"

const tempDir = Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "jobstore-")))
const readLines = (dir: string) => Effect.promise(() => Fs.readFile(journalFile(dir), "utf8"))

describe("JobStore", () => {
  it.scoped("a job is on disk before accept succeeds, and replays with its last state", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const store = yield* make(dir)
      const job = yield* store.accept({ ms: 5, payload: { n: 1 } })
      expect(job).toMatchObject({ ms: 5, payload: { n: 1 }, state: "queued" })
      expect(yield* readLines(dir)).toContain(job.id)
      yield* store.transition(job.id, "running")
      yield* store.transition(job.id, "done")
      yield* store.close
      const reopened = yield* make(dir)
      expect(Option.getOrThrow(reopened.get(job.id))).toMatchObject({ state: "done", payload: { n: 1 } })
      expect(reopened.unfinished()).toEqual([])
      yield* reopened.close
    }).pipe(Effect.provide(captureLogs().layer)))

  it.scoped("unfinished jobs (queued, running) come back in acceptance order", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const store = yield* make(dir)
      const a = yield* store.accept({ ms: 1, payload: null })
      const b = yield* store.accept({ ms: 1, payload: null })
      const c = yield* store.accept({ ms: 1, payload: null })
      yield* store.transition(a.id, "running")
      yield* store.transition(b.id, "done")
      yield* store.close
      const reopened = yield* make(dir)
      expect(reopened.unfinished().map((job) => [job.id, job.state])).toEqual([[a.id, "running"], [c.id, "queued"]])
      yield* reopened.close
    }).pipe(Effect.provide(captureLogs().layer)))

  it.scoped("a torn last line (crash mid-write) is skipped with a warning; the rest is intact and appends stay clean", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const dir = yield* tempDir
      const store = yield* make(dir)
      const kept = yield* store.accept({ ms: 1, payload: "kept" })
      yield* store.close
      yield* Effect.promise(() => Fs.appendFile(journalFile(dir), `{"op":"accept","id":"torn","ms":1,"pay`))
      const reopened = yield* make(dir)
      expect(logs.lines.find((line) => line.message === "job journal: torn last line skipped")).toMatchObject({ level: "warn" })
      expect(Option.isSome(reopened.get(kept.id))).toBe(true)
      expect(Option.isNone(reopened.get("torn"))).toBe(true)
      const next = yield* reopened.accept({ ms: 1, payload: "next" })
      yield* reopened.close
      const lines = (yield* readLines(dir)).trimEnd().split("\n")
      expect(lines.map((line) => JSON.parse(line).id)).toEqual([kept.id, next.id])
    }).pipe(Effect.provide(logs.layer))
  })

  it.scoped("stop once: closing twice is safe, and writes after close fail with a typed JobStoreClosed", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const store = yield* make(dir)
      const job = yield* store.accept({ ms: 1, payload: null })
      yield* Effect.all([store.close, store.close], { concurrency: "unbounded" })
      yield* store.close
      const accepted = yield* Effect.either(store.accept({ ms: 1, payload: null }))
      expect(Either.isLeft(accepted) && accepted.left._tag).toBe("JobStoreClosed")
      const moved = yield* Effect.either(store.transition(job.id, "done"))
      expect(Either.isLeft(moved) && moved.left._tag).toBe("JobStoreClosed")
      expect(Option.getOrThrow(store.get(job.id)).state).toBe("queued") // reads still answer
    }).pipe(Effect.provide(captureLogs().layer)))

  it.effect("concurrent appends are all durable (group commit) and each resolves after its own write", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const scope = yield* Scope.make()
      const store = yield* Scope.extend(make(dir), scope)
      const jobs = yield* Effect.forEach(Array.from({ length: 200 }, (_, i) => i), (i) => store.accept({ ms: i, payload: i }), {
        concurrency: 50
      })
      yield* store.close
      yield* Scope.close(scope, Exit.void)
      const ids = (yield* readLines(dir)).trimEnd().split("\n").map((line) => JSON.parse(line).id)
      expect(new Set(ids)).toEqual(new Set(jobs.map((job) => job.id)))
    }).pipe(Effect.provide(captureLogs().layer)))
})
