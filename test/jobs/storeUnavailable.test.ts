// A store that cannot write, seen through the public routes as App.ts serves them: POST /jobs
// answers 503 StoreUnavailable with Retry-After (never 500, never a 202 for a row not committed),
// GET /jobs/:id 503 when it cannot read, /readyz 503 "not ready"; all of it recovers by itself.
// SQLite: a double of the SQL client that fails writes (failingSqlClient.ts; the real disk-full
// under a tmpfs is diskFull.process.test.ts, which needs root). Postgres: the database behind a
// TCP proxy the test cuts.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import * as JobsFeature from "../../src/jobs/JobsFeature.js"
import { QUEUE_TABLE } from "../../src/jobs/JobMigrations.js"
import { captureLogs } from "../support/captureLogs.js"
import { leakCheck } from "../support/LeakCheck.js"
import { postgresUrl } from "../support/postgres.js"
import { startServing } from "../support/publicServer.js"
import { proxiedPostgres } from "../support/TcpProxy.js"
import { type DiskSwitch, failingDatabase } from "./failingSqlClient.js"
import { startStore } from "./jobStores.js"
import { jobsServed } from "./jobsServed.js"

interface Answer {
  readonly status: number
  readonly retryAfter: string | null
  readonly body: any
}

const call = (url: string, body?: unknown) =>
  Effect.promise(async (): Promise<Answer> => {
    const response = await fetch(url, body === undefined ? {} : {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body)
    })
    const text = await response.text()
    let parsed: unknown = text
    try {
      parsed = JSON.parse(text)
    } catch {
      // kept as text, so a failing assertion shows it
    }
    return { status: response.status, retryAfter: response.headers.get("retry-after"), body: parsed }
  })

const isStoreUnavailable = (answer: Answer) =>
  answer.status === 503 && answer.body?.error === "StoreUnavailable" && Number(answer.retryAfter) > 0

/** Polls /readyz (the condition, not a timer) until it answers `status`. */
const readyzBecomes = (baseUrl: string, status: number, timeoutMs: number) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const answer = yield* call(`${baseUrl}/readyz`)
      if (answer.status === status) return answer
      if (Date.now() > deadline) return yield* Effect.dieMessage(`/readyz still ${answer.status} ${JSON.stringify(answer.body)} after ${timeoutMs} ms`)
      yield* Effect.sleep("100 millis")
    }
  })

describe("the job store cannot write, through the routes", () => {
  // Catches: a refused write or a failed COMMIT (a defect of the SQL client) answered 500; a 202
  // for a job that was not committed (missing after the restart) or a refused job that was stored
  // anyway (one row too many); a /readyz that ignores the store or never recovers.
  it.live("SQLite with writes failing (statement or COMMIT): 503 + Retry-After, no 500, not ready; writes back: 202 and ready; after a restart every 202'd job is there, nothing else", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const dataDir = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "jobs-failing-")))
      const disk: DiskSwitch = { mode: "none", refused: 0 }
      const acked: Array<string> = []
      const refused: Array<Answer> = []
      const unexpected: Array<Answer> = []
      yield* Effect.scoped(Effect.gen(function*() {
        const { baseUrl } = yield* startServing({
          features: JobsFeature.layerOn(failingDatabase(disk)),
          api: jobsServed,
          config: { DATA_DIR: dataDir, WORKERS: "1", JOB_QUEUE_SIZE: "100" }
        })
        const submit = (n: number) =>
          Effect.map(call(`${baseUrl}/jobs`, { ms: 1, payload: { n } }), (answer) => {
            if (answer.status === 202) acked.push(String(answer.body.id))
            else if (isStoreUnavailable(answer)) refused.push(answer)
            else unexpected.push(answer)
            return answer
          })
        for (let n = 0; n < 3; n++) expect((yield* submit(n)).status).toBe(202)

        for (const mode of ["writes", "commit"] as const) {
          disk.mode = mode
          const before = disk.refused
          for (let n = 0; n < 4; n++) yield* submit(n)
          expect(unexpected).toEqual([])
          expect(acked).toHaveLength(3)
          expect(disk.refused, `the double refused nothing in mode ${mode}`).toBeGreaterThan(before)
          const notReady = yield* readyzBecomes(baseUrl, 503, 10_000)
          expect(notReady.body).toMatchObject({ status: "not ready" })
        }
        expect(refused).toHaveLength(8)
        // Reads still work on a full disk.
        expect((yield* call(`${baseUrl}/jobs/${acked[0]}`)).status).toBe(200)

        disk.mode = "none"
        yield* readyzBecomes(baseUrl, 200, 10_000)
        for (let n = 0; n < 2; n++) expect((yield* submit(n)).status).toBe(202)
      }))
      expect(unexpected).toEqual([])

      // The service restarts on the same file (the double gone): every 202'd job, and only those.
      const { sql, stop, store } = yield* startStore({ store: { DATA_DIR: dataDir } })
      for (const id of acked) expect(Option.isSome(yield* store.get(id)), id).toBe(true)
      const rows = yield* sql<{ readonly n: number }>`SELECT COUNT(*) AS n FROM ${sql(QUEUE_TABLE)} WHERE queue_name = 'jobs'`
      expect(Number(rows[0]!.n)).toBe(acked.length)
      yield* stop
    }).pipe(Effect.provide(logs.layer)))
  }, 40_000)

  it.live.skipIf(postgresUrl === null)("Postgres cut off: POST and GET 503 + Retry-After, never 500 or 202, /readyz 503; restored: /readyz 200 by itself, POST 202", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const { proxy, url: viaProxy } = yield* proxiedPostgres
      const dataDir = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "jobs-pgdown-")))
      const { baseUrl } = yield* startServing({
        features: JobsFeature.layer,
        api: jobsServed,
        config: { DATABASE_URL: viaProxy, DATA_DIR: dataDir, WORKERS: "1", JOB_QUEUE_SIZE: "100" }
      })
      const first = yield* call(`${baseUrl}/jobs`, { ms: 1 })
      expect(first.status).toBe(202)
      const id = String(first.body.id)

      yield* Effect.promise(() => proxy.cut())
      const posts: Array<Answer> = []
      for (let n = 0; n < 4; n++) posts.push(yield* call(`${baseUrl}/jobs`, { ms: 1, payload: { n } }))
      expect(posts.filter((answer) => !isStoreUnavailable(answer))).toEqual([])
      const read = yield* call(`${baseUrl}/jobs/${id}`)
      expect(read).toMatchObject({ status: 503, body: { error: "StoreUnavailable" } })
      const notReady = yield* readyzBecomes(baseUrl, 503, 10_000)
      expect(notReady.body).toMatchObject({ status: "not ready" })

      yield* Effect.promise(() => proxy.restore())
      yield* readyzBecomes(baseUrl, 200, 15_000)
      const after = yield* call(`${baseUrl}/jobs`, { ms: 1 })
      expect(after.status).toBe(202)
      expect((yield* call(`${baseUrl}/jobs/${id}`)).status).toBe(200)
    }).pipe(Effect.scoped, Effect.provide(logs.layer)))
  }, 40_000)
})
