// The admin routes on a real draining server over a real socket: methods, OPTIONS, request-targets
// that are not URLs, and how refusals are logged.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as AppConfig from "../../src/config/AppConfig.js"
import * as AdminApp from "../../src/http/admin/AdminApp.js"
import * as FiberRegistry from "../../src/lifecycle/FiberRegistry.js"
import * as Shutdown from "../../src/lifecycle/Shutdown.js"
import { ShutdownReason } from "../../src/lifecycle/ShutdownReason.js"
import { captureLogs } from "../support/captureLogs.js"
import { leakCheck } from "../support/LeakCheck.js"
import { RawConnection } from "../support/RawConnection.js"
import { servedListener } from "../support/servedListener.js"
import * as TestConfig from "../support/testConfig.js"

const TOKEN = "admin-secret-token"

const startAdmin = (token: string | undefined, budgetMs = 2_000, config: TestConfig.Env = {}) =>
  Effect.gen(function*() {
    const shutdown = yield* Shutdown.make(budgetMs)
    const registry = yield* FiberRegistry.make
    yield* Effect.addFinalizer(() => shutdown.trigger(ShutdownReason.Completed()))
    const app = yield* AdminApp.make(token).pipe(
      Effect.provideService(Shutdown.Shutdown, shutdown),
      Effect.provideService(FiberRegistry.FiberRegistry, registry)
    )
    const server = yield* servedListener({ name: "admin", host: "127.0.0.1", port: 0, drainDelayMs: 0, requestTimeoutMs: 5_000 }, app).pipe(
      Effect.provideService(Shutdown.Shutdown, shutdown),
      Effect.provideService(FiberRegistry.FiberRegistry, registry),
      Effect.provide(TestConfig.withEnv(AppConfig.layer, config))
    )
    return { port: server.port, shutdown }
  })

const send = (port: number, method: string, target: string, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const connection = await RawConnection.open(port)
    connection.request(target, method, headers)
    return connection.nextResponse()
  })

describe("admin routes", () => {
  it.live.each([
    ["GET", "/admin/shutdown", "POST, OPTIONS"],
    ["DELETE", "/metrics", "GET, HEAD, OPTIONS"],
    ["PROPFIND", "/debug/fibers", "GET, HEAD, OPTIONS"],
    ["POST", "/debug/shutdown", "GET, HEAD, OPTIONS"]
  ])("%s %s -> 405 JSON with Allow: %s; OPTIONS -> 204 with the same Allow", ([method, path, allow]) =>
    leakCheck(Effect.gen(function*() {
      const { port } = yield* startAdmin(undefined)
      const wrong = yield* send(port, method!, path!)
      expect(wrong.status).toBe(405)
      expect(wrong.headers["allow"]).toBe(allow)
      expect(JSON.parse(wrong.body)).toEqual({ error: "MethodNotAllowed", message: `${path} takes ${allow}` })
      const options = yield* send(port, "OPTIONS", path!)
      expect(options.status).toBe(204)
      expect(options.headers["allow"]).toBe(allow)
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  it.live("HEAD on a GET route is served like GET, without a body", () =>
    leakCheck(Effect.gen(function*() {
      const { port } = yield* startAdmin(undefined)
      const head = yield* Effect.promise(async () => {
        const response = await fetch(`http://127.0.0.1:${port}/debug/fibers`, { method: "HEAD" })
        return { status: response.status, body: await response.text() }
      })
      expect(head).toEqual({ status: 200, body: "" })
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  const notUrls = ["//", "//%", "http://[/metrics", "http://x:99999/metrics", "http://", "/\\", "http://[::1/"]
  it.live.each(notUrls)("a request-target new URL cannot parse (%s) -> 400 JSON, not a defect", (target) => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const { port } = yield* startAdmin(undefined)
      const response = yield* send(port, "GET", target)
      expect(response.status).toBe(400)
      expect(JSON.parse(response.body)).toEqual({ error: "BadRequest", message: "the request-target is not a valid URL" })
      expect(logs.lines.filter((line) => line.level === "error")).toEqual([])
      expect((yield* send(port, "GET", "/debug/fibers")).status).toBe(200) // still serving
    }).pipe(Effect.provide(logs.layer)))
  }, 10_000)

  it.live("refusals log at warn without a stack; a 401 names the remote address and never the token", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const { port } = yield* startAdmin(TOKEN)
      const denied = yield* send(port, "GET", "/metrics", { authorization: "Bearer wrong" })
      expect(denied.status).toBe(401)
      expect(JSON.parse(denied.body)).toMatchObject({ error: "Unauthorized" })
      const auth = { authorization: `Bearer ${TOKEN}` }
      expect((yield* send(port, "GET", "/nope", auth)).status).toBe(404)
      expect((yield* send(port, "PUT", "/metrics", auth)).status).toBe(405)
      const warns = logs.lines.filter((line) => line.level === "warn")
      expect(warns.map((line) => line.kind)).toEqual(["admin unauthorized", "admin not found", "admin method not allowed"])
      expect(warns[0]).toMatchObject({ remoteAddress: "127.0.0.1", method: "GET" })
      expect(warns.every((line) => line.cause === undefined)).toBe(true)
      expect(JSON.stringify(logs.lines)).not.toContain(TOKEN)
      expect(JSON.stringify(logs.lines)).not.toContain("wrong")
    }).pipe(Effect.provide(logs.layer)))
  }, 10_000)

  it.live("POST /admin/shutdown: the shutdown line names who asked (remote address)", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const { port, shutdown } = yield* startAdmin(TOKEN)
      const accepted = yield* send(port, "POST", "/admin/shutdown", { authorization: `Bearer ${TOKEN}` })
      expect(accepted.status).toBe(202)
      expect(yield* shutdown.reason).toEqual(Option.some(ShutdownReason.Admin()))
      const line = yield* logs.waitForLine((line) => line.message === "shutdown")
      expect(line).toMatchObject({ level: "info", reason: "admin", remoteAddress: "127.0.0.1" })
      // A second ask is logged with its address too.
      expect((yield* send(port, "POST", "/admin/shutdown", { authorization: `Bearer ${TOKEN}` })).status).toBe(202)
      const again = yield* logs.waitForLine((line) => line.message === "shutdown already in progress")
      expect(again).toMatchObject({ reason: "admin", firstReason: "admin", remoteAddress: "127.0.0.1" })
    }).pipe(Effect.provide(logs.layer)))
  }, 10_000)

  it.live("GET /debug/shutdown before shutdown: serving, the whole budget left, behind the token", () =>
    leakCheck(Effect.gen(function*() {
      const { port } = yield* startAdmin(TOKEN, 7_000)
      expect((yield* send(port, "GET", "/debug/shutdown")).status).toBe(401)
      const response = yield* send(port, "GET", "/debug/shutdown", { authorization: `Bearer ${TOKEN}` })
      expect(response.status).toBe(200)
      const view = JSON.parse(response.body)
      expect(view).toMatchObject({ phase: "serving", runningPhases: [], reason: null, elapsedMs: 0, budgetMs: 7_000, budgetLeftMs: 7_000 })
      // The view's own request is in flight on the admin server while it is built.
      expect(view.holding["http.admin"]).toEqual({ requests: { "/debug/shutdown": 1 } })
      expect(view.fibers).toEqual(expect.arrayContaining([expect.objectContaining({ name: "GET /debug/shutdown", owner: "http.admin" })]))
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  it.live("LOG_REQUESTS=true: admin requests get their access line too, refusals included", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const { port } = yield* startAdmin(TOKEN, 2_000, { LOG_REQUESTS: "true" })
      const metrics = yield* send(port, "GET", "/metrics", { authorization: `Bearer ${TOKEN}` })
      expect(metrics.status).toBe(200)
      expect((yield* send(port, "GET", "/metrics")).status).toBe(401)
      const access = logs.lines.filter((line) => line.message === "request")
      expect(access).toMatchObject([
        { level: "info", server: "admin", method: "GET", route: "/metrics", status: 200, traceId: metrics.headers["x-trace-id"] },
        { level: "info", server: "admin", method: "GET", route: "unmatched", status: 401 }
      ])
    }).pipe(Effect.provide(logs.layer)))
  }, 10_000)
})
