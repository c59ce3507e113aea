// POST /jobs and GET /jobs/:id under hostile input, over a real socket: the jobs feature's body is
// the one JSON a client can make us write back out (the job store keeps every payload as JSON text),
// so a body too deep or with a number JSON cannot hold is refused before anything is stored.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { MAX_JSON_DEPTH } from "../../src/http/BoundedJson.js"
import * as JobsFeature from "../../src/jobs/JobsFeature.js"
import { captureLogs } from "../support/captureLogs.js"
import { leakCheck } from "../support/LeakCheck.js"
import { startServing } from "../support/publicServer.js"
import { exchange, expectErrorBody, json, nested, request, SECRET } from "../http/rawHttp.js"
import { jobsServed } from "./jobsServed.js"

const start = Effect.gen(function*() {
  const dataDir = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "jobs-hostile-")))
  return yield* startServing({ features: JobsFeature.layer, api: jobsServed, config: { DATA_DIR: dataDir, WORKERS: "1", JOB_QUEUE_SIZE: "10" } })
})

const cases: ReadonlyArray<readonly [name: string, bytes: Buffer, status: number, error: string]> = [
  ["GET /jobs", request("GET", "/jobs"), 405, "MethodNotAllowed"],
  ["DELETE /jobs/:id", request("DELETE", "/jobs/some-id"), 405, "MethodNotAllowed"],
  ["PUT /jobs with a deep body (the method decides first)", request("PUT", "/jobs", json, nested(5_000)), 405, "MethodNotAllowed"],
  ["GET /jobs/%ZZ", request("GET", "/jobs/%ZZ"), 404, "NotFound"],
  ["a payload 20,000 deep (storing it would blow the stack)", request("POST", "/jobs", json, `{"ms":1,"payload":${nested(20_000)}}`), 400, "BadRequest"],
  ["a payload 3,000 deep (past the limit, though JSON.stringify copes)", request("POST", "/jobs", json, `{"ms":1,"payload":${nested(3_000)}}`), 400, "BadRequest"],
  ["a bare array 20,000 deep (the decode error's message would recurse)", request("POST", "/jobs", json, nested(20_000)), 400, "BadRequest"],
  ["text/plain echoing its body (F12)", request("POST", "/jobs", { "content-type": "text/plain" }, `{"ms":"${SECRET}"}`), 415, "UnsupportedMediaType"],
  ["a payload one level too deep", request("POST", "/jobs", json, `{"ms":1,"payload":${nested(MAX_JSON_DEPTH)}}`), 400, "BadRequest"],
  ["ms 1e400", request("POST", "/jobs", json, `{"ms":1e400}`), 400, "BadRequest"],
  ["a payload of 1e400 (it would be stored as null)", request("POST", "/jobs", json, `{"ms":1,"payload":{"n":1e400}}`), 400, "BadRequest"],
  ["a string for ms", request("POST", "/jobs", json, `{"ms":"${SECRET}"}`), 400, "BadRequest"],
  ["not JSON", request("POST", "/jobs", json, `{"ms":${SECRET}`), 400, "BadRequest"],
  ["text/plain", request("POST", "/jobs", { "content-type": "text/plain" }, `{"ms":1}`), 415, "UnsupportedMediaType"],
  [
    "multipart (the platform would parse it as such)",
    request("POST", "/jobs", { "content-type": "multipart/form-data; boundary=x" }, `{"ms":1}`),
    415,
    "UnsupportedMediaType"
  ]
]

describe("jobs routes under hostile input", () => {
  it.live.each(cases.map(([name, bytes, status, error]) => ({ name, bytes, status, error })))(
    "$name -> $status $error",
    ({ bytes, error, status }) =>
      leakCheck(Effect.gen(function*() {
        const { port } = yield* start
        expectErrorBody(yield* exchange(port, bytes), status, error)
      }).pipe(Effect.provide(captureLogs().layer))),
    10_000
  )

  it.live("after all that, a payload at the depth limit is accepted, stored and read back whole; no error logged", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const { port } = yield* start
      for (const [, bytes] of cases) yield* exchange(port, bytes)
      const payload = nested(MAX_JSON_DEPTH - 1, "1e300")
      const accepted = yield* exchange(port, request("POST", "/jobs", json, `{"ms":0,"payload":${payload}}`))
      expect(accepted.status).toBe(202)
      const { id } = JSON.parse(accepted.body)
      const job = yield* exchange(port, request("GET", `/jobs/${id}`))
      expect(JSON.parse(job.body).payload).toEqual(JSON.parse(payload))
      expect(logs.lines.filter((line) => line.level === "error")).toEqual([])
    }).pipe(Effect.provide(logs.layer)))
  }, 20_000)
})
