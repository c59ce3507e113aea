// The public API served by our own server, called through the client derived from its declaration.
import { FetchHttpClient, HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit, Layer, Scope } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import * as AppConfig from "../../src/config/AppConfig.js"
import * as OwnedServer from "../../src/http/OwnedServer.js"
import * as JobStore from "../../src/jobs/JobStore.js"
import * as WorkerPool from "../../src/jobs/WorkerPool.js"
import * as Upstream from "../../src/resilience/Upstream.js"
import { startUpstream } from "../support/fakeUpstream.js"
import { RawConnection } from "../support/RawConnection.js"
import { Api } from "../../src/http/public/Api.js"
import { BadRequest, Draining } from "../../src/http/public/ApiErrors.js"
import * as PublicApp from "../../src/http/public/PublicApp.js"
import * as FiberRegistry from "../../src/lifecycle/FiberRegistry.js"
import * as Shutdown from "../../src/lifecycle/Shutdown.js"
import { ShutdownReason } from "../../src/lifecycle/ShutdownReason.js"
import { captureLogs } from "../support/captureLogs.js"
import { leakCheck } from "../support/LeakCheck.js"

const startPublicWith = (overrides: Partial<AppConfig.AppConfigShape>) => Effect.gen(function*() {
  const shutdown = yield* Shutdown.make(2_000)
  const registry = yield* FiberRegistry.make
  const scope = yield* Scope.make()
  const dataDir = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "jobs-")))
  // Built into the server's scope, before it: released after the server, as in the app.
  const jobs = yield* Layer.buildWithScope(
    Layer.merge(WorkerPool.layer.pipe(Layer.provideMerge(JobStore.layer)), Upstream.layer).pipe(
      Layer.provide(AppConfig.layer(AppConfig.test({ dataDir, jobQueueSize: 2, workers: 1, ...overrides }))),
      Layer.provide(Layer.succeed(Shutdown.Shutdown, shutdown)),
      Layer.provide(Layer.succeed(FiberRegistry.FiberRegistry, registry))
    ),
    scope
  )
  const server = yield* Effect.gen(function*() {
    const app = yield* PublicApp.make
    return yield* OwnedServer.make({ name: "public", host: "127.0.0.1", port: 0, drainDelayMs: 0, requestTimeoutMs: 5_000 }, app)
  }).pipe(
    Effect.provide(jobs),
    Scope.extend(scope),
    Effect.provideService(Shutdown.Shutdown, shutdown),
    Effect.provideService(FiberRegistry.FiberRegistry, registry)
  )
  const baseUrl = `http://127.0.0.1:${server.port}`
  yield* Effect.addFinalizer(() => Effect.zipRight(shutdown.trigger(ShutdownReason.Completed()), Scope.close(scope, Exit.void)))
  return { baseUrl, shutdown, registry }
})

const startPublic = startPublicWith({})

const get = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    return { status: response.status, type: response.headers.get("content-type"), body: (await response.json()) as any }
  })

const post = (url: string, body: string | ReadableStream<Uint8Array>) =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      ...(typeof body === "string" ? {} : { duplex: "half" })
    } as RequestInit)
    return { status: response.status, retryAfter: response.headers.get("retry-after"), body: (await response.json()) as any }
  })

describe("public API", () => {
  it.live("healthz, readyz and sleep through the typed client", () =>
    leakCheck(Effect.gen(function*() {
      const { baseUrl, shutdown } = yield* startPublic
      const client = yield* HttpApiClient.make(Api, { baseUrl })
      expect(yield* client.health.healthz()).toEqual({ status: "ok" })
      expect(yield* client.health.readyz()).toEqual({ status: "ready" })
      expect(yield* client.work.sleep({ urlParams: { ms: 5 } })).toEqual({ sleptMs: 5 })
      yield* shutdown.trigger(ShutdownReason.Admin())
      const draining = yield* Effect.either(client.health.readyz())
      expect(Either.isLeft(draining) && draining.left instanceof Draining).toBe(true)
      expect(yield* client.health.healthz()).toEqual({ status: "ok" }) // liveness is not readiness
    }).pipe(Effect.provide([FetchHttpClient.layer, captureLogs().layer]))), 10_000)

  it.live.each([
    ["abc", "must be a non-negative integer"],
    ["-1", "must be a non-negative integer"],
    ["1.5", "must be a non-negative integer"],
    ["1e3", "must be a non-negative integer"],
    ["%205", "must be a non-negative integer"],
    ["600001", "must be at most 600000"]
  ])("GET /sleep?ms=%s -> 400 JSON naming the problem", ([ms, problem]) =>
    leakCheck(Effect.gen(function*() {
      const { baseUrl } = yield* startPublic
      const response = yield* get(`${baseUrl}/sleep?ms=${ms}`)
      expect(response).toEqual({ status: 400, type: "application/json", body: { error: "BadRequest", message: `ms: ${problem}` } })
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  it.live("missing ms -> 400; unknown route -> 404; both {error, message}", () =>
    leakCheck(Effect.gen(function*() {
      const { baseUrl } = yield* startPublic
      expect(yield* get(`${baseUrl}/sleep`)).toEqual({
        status: 400,
        type: "application/json",
        body: { error: "BadRequest", message: "ms: is missing" }
      })
      expect(yield* get(`${baseUrl}/nope?x=1`)).toEqual({
        status: 404,
        type: "application/json",
        body: { error: "NotFound", message: "no route for GET /nope" }
      })
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  it.live("contract: the served 400 decodes as the declared BadRequest error", () =>
    leakCheck(Effect.gen(function*() {
      const { baseUrl } = yield* startPublic
      // The client validates before sending; rewrite the wire value to reach the server's check.
      const client = yield* HttpApiClient.make(Api, {
        baseUrl,
        transformClient: HttpClient.mapRequest(HttpClientRequest.setUrlParam("ms", "soon"))
      })
      const result = yield* Effect.either(client.work.sleep({ urlParams: { ms: 1 } }))
      expect(Either.isLeft(result) && result.left instanceof BadRequest).toBe(true)
      expect(Either.isLeft(result) && "message" in result.left ? result.left.message : "").toBe("ms: must be a non-negative integer")
    }).pipe(Effect.provide([FetchHttpClient.layer, captureLogs().layer]))), 10_000)

  it.live("/openapi.json is generated from the declaration and promises our error shape only", () =>
    leakCheck(Effect.gen(function*() {
      const { baseUrl } = yield* startPublic
      const { body, status } = yield* get(`${baseUrl}/openapi.json`)
      expect(status).toBe(200)
      expect(Object.keys(body.paths).sort()).toEqual(["/healthz", "/jobs", "/jobs/{id}", "/readyz", "/sleep", "/upstream"])
      expect(JSON.stringify(body)).not.toContain("HttpApiDecodeError")
      expect(body.paths["/sleep"].get.responses["400"].content["application/json"].schema).toEqual({
        $ref: "#/components/schemas/BadRequest"
      })
      const docs = yield* Effect.promise(() => fetch(`${baseUrl}/docs`))
      expect(docs.status).toBe(200)
      expect(docs.headers.get("content-type")).toContain("text/html")
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  it.live("POST /jobs -> 202 {id} once journaled; GET /jobs/:id follows it to done; unknown id -> 404", () =>
    leakCheck(Effect.gen(function*() {
      const { baseUrl } = yield* startPublic
      const client = yield* HttpApiClient.make(Api, { baseUrl })
      const { id } = yield* client.jobs.submit({ payload: { ms: 5, payload: { hello: "world" } } })
      let job = yield* client.jobs.get({ path: { id } })
      for (let i = 0; i < 100 && job.state !== "done"; i++) {
        yield* Effect.sleep("10 millis") // polling the route under test: its answer is the event
        job = yield* client.jobs.get({ path: { id } })
      }
      expect(job).toMatchObject({ id, state: "done", ms: 5, payload: { hello: "world" } })
      expect(yield* get(`${baseUrl}/jobs/no-such-job`)).toEqual({
        status: 404,
        type: "application/json",
        body: { error: "NotFound", message: "no job no-such-job" }
      })
    }).pipe(Effect.provide([FetchHttpClient.layer, captureLogs().layer]))), 10_000)

  it.live.each<readonly [string, string]>([
    ["not JSON", "{"],
    ["no ms", `{"payload":1}`],
    ["ms not a number", `{"ms":"soon"}`],
    ["ms negative", `{"ms":-1}`],
    ["ms fractional", `{"ms":1.5}`]
  ])("POST /jobs with %s -> 400 BadRequest", ([, body]) =>
    leakCheck(Effect.gen(function*() {
      const { baseUrl } = yield* startPublic
      const response = yield* post(`${baseUrl}/jobs`, body)
      expect(response.status).toBe(400)
      expect(response.body).toMatchObject({ error: "BadRequest", message: expect.any(String) })
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  it.live("a body over 1 MiB: 413 when Content-Length announces it; a chunked one is cut off and nothing is accepted", () =>
    leakCheck(Effect.gen(function*() {
      const { baseUrl } = yield* startPublic
      const big = JSON.stringify({ ms: 1, payload: "x".repeat(1024 * 1024) })
      const announced = yield* post(`${baseUrl}/jobs`, big)
      expect(announced).toMatchObject({ status: 413, body: { error: "PayloadTooLarge" } })
      // Without Content-Length the limit is found while reading, and platform-node then destroys
      // the request stream, which closes the socket: no 413 can be written (noted on the issue).
      const streamed = yield* Effect.either(post(`${baseUrl}/jobs`, new Blob([big]).stream()).pipe(Effect.sandbox))
      expect(streamed._tag).toBe("Left")
      expect((yield* get(`${baseUrl}/readyz`)).status).toBe(200) // and the server is still serving
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  it.live("a full queue -> 429 QueueFull with Retry-After; during shutdown -> 503 ShuttingDown with Retry-After", () =>
    leakCheck(Effect.gen(function*() {
      const { baseUrl, shutdown } = yield* startPublic // 1 worker, queue of 2
      const statuses: Array<number> = []
      for (let i = 0; i < 4; i++) statuses.push((yield* post(`${baseUrl}/jobs`, `{"ms":150}`)).status)
      expect(statuses.slice(0, 3)).toEqual([202, 202, 202]) // one running, two waiting
      const full = yield* post(`${baseUrl}/jobs`, `{"ms":1}`)
      expect(full).toMatchObject({ status: 429, retryAfter: "1", body: { error: "QueueFull" } })
      yield* shutdown.trigger(ShutdownReason.Admin())
      const closing = yield* post(`${baseUrl}/jobs`, `{"ms":1}`)
      expect(closing).toMatchObject({ status: 503, retryAfter: "5", body: { error: "ShuttingDown" } })
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  it.live("GET /upstream wraps the upstream's JSON; unset URL -> 503 UpstreamNotConfigured", () =>
    leakCheck(Effect.gen(function*() {
      const fake = yield* Effect.promise(startUpstream)
      fake.script.push({ status: 200, body: { price: 42 } })
      const { baseUrl } = yield* startPublicWith({ upstreamUrl: new URL(fake.url) })
      expect(yield* get(`${baseUrl}/upstream`)).toMatchObject({ status: 200, body: { upstream: { price: 42 } } })
      const unset = yield* startPublic
      expect(yield* get(`${unset.baseUrl}/upstream`)).toMatchObject({ status: 503, body: { error: "UpstreamNotConfigured" } })
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  it.live("a client that disconnects mid-call: the upstream sees its socket closed within 100 ms; the handler saw the interrupt", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const fake = yield* Effect.promise(startUpstream)
      fake.script.push("hang")
      const { baseUrl } = yield* startPublicWith({ upstreamUrl: new URL(fake.url), upstreamTimeoutMs: 10_000 })
      const client = yield* Effect.promise(() => RawConnection.open(Number(new URL(baseUrl).port)))
      client.request("/upstream")
      while (fake.requests.length === 0) yield* Effect.sleep("5 millis") // the upstream's own record is the event
      client.destroy()
      const destroyedAt = performance.now()
      yield* logs.waitForLine((line) => line.message === "upstream call interrupted")
      while (fake.requests[0]!.closedAt === undefined && performance.now() - destroyedAt < 1_000) yield* Effect.sleep("5 millis")
      expect(fake.requests[0]!.closedAt! - destroyedAt).toBeLessThan(100)
    }).pipe(Effect.provide(logs.layer)))
  }, 10_000)
})
