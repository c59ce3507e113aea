// A known path with another method: 405 with Allow, and OPTIONS answers with the same Allow. The
// table comes from the served HttpApi, so a feature's group is covered the moment it is added.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schedule } from "effect"
import * as NodeEdge from "../../src/lifecycle/NodeEdge.js"
import * as Prometheus from "../../src/observability/Prometheus.js"
import { captureLogs } from "../support/captureLogs.js"
import { leakCheck } from "../support/LeakCheck.js"
import { parsePrometheus, valueOf } from "../support/parsePrometheus.js"
import { startServing } from "../support/publicServer.js"
import { RawConnection } from "../support/RawConnection.js"
import * as WidgetsFeature from "./widgetsFeature.js"

/** The core routes and a feature only this test declares (the jobs feature checks its own in test/jobs). */
const start = startServing({ features: Layer.empty, api: WidgetsFeature.served })

const send = (port: number, method: string, target: string, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const connection = await RawConnection.open(port)
    connection.request(target, method, headers)
    return connection.nextResponse()
  })

describe("405 and OPTIONS on the public routes", () => {
  it.live.each([
    ["PUT", "/healthz", "/healthz", "GET, HEAD, OPTIONS"],
    ["POST", "/readyz", "/readyz", "GET, HEAD, OPTIONS"],
    ["DELETE", "/sleep?ms=1", "/sleep", "GET, HEAD, OPTIONS"],
    ["PUT", "/widgets", "/widgets", "GET, HEAD, POST, OPTIONS"],
    ["GET", "/widgets/w1", "/widgets/:name", "PATCH, DELETE, OPTIONS"],
    ["POST", "/openapi.json", "/openapi.json", "GET, HEAD, OPTIONS"]
  ])("%s %s -> 405, Allow of %s: %s; OPTIONS -> 204, same Allow", ([method, target, template, allow]) =>
    leakCheck(Effect.gen(function*() {
      const { port } = yield* start
      const wrong = yield* send(port, method!, target!, { "content-length": "0" })
      expect(wrong.status).toBe(405)
      expect(wrong.headers["allow"]).toBe(allow)
      expect(wrong.headers["content-type"]).toBe("application/json")
      expect(JSON.parse(wrong.body)).toEqual({ error: "MethodNotAllowed", message: `${template} takes ${allow}` })
      const options = yield* send(port, "OPTIONS", target!)
      expect(options.status).toBe(204)
      expect(options.headers["allow"]).toBe(allow)
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  it.live("the router's own matching decides: a trailing slash and another case are the same path", () =>
    leakCheck(Effect.gen(function*() {
      const { port } = yield* start
      expect((yield* send(port, "GET", "/HEALTHZ")).status).toBe(200)
      expect((yield* send(port, "PUT", "/HEALTHZ")).status).toBe(405)
      expect((yield* send(port, "PUT", "/healthz/")).status).toBe(405)
      expect((yield* send(port, "PUT", "/healthz/more")).status).toBe(404)
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  it.live("a served method still works, HEAD included; the 405 is decided before a body is read", () =>
    leakCheck(Effect.gen(function*() {
      const { port } = yield* start
      const renamed = yield* Effect.promise(async () =>
        (await fetch(`http://127.0.0.1:${port}/widgets/w1`, { method: "PATCH", headers: { "content-type": "application/json" }, body: `{"to":"b"}` })).status)
      expect(renamed).toBe(204)
      const connection = yield* Effect.promise(() => RawConnection.open(port))
      // A PUT with a deep body on a path that takes no PUT: the method is wrong, whatever the body.
      const deep = "[".repeat(5_000)
      connection.write(`PUT /widgets HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: ${deep.length}\r\n\r\n${deep}`)
      const put = yield* Effect.promise(() => connection.nextResponse())
      expect(put.status).toBe(405)
      const head = yield* Effect.promise(async () => (await fetch(`http://127.0.0.1:${port}/healthz`, { method: "HEAD" })).status)
      expect(head).toBe(200)
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  // The gate answers these itself (the API's router never sees them), so it is the gate that must
  // name the route on the server span: http_requests_total labels them by template, not "unmatched".
  it.live("a 405 and an OPTIONS are counted under the route's template", () =>
    leakCheck(Effect.gen(function*() {
      const { port } = yield* start
      const count = (method: string, status: string) =>
        Effect.map(Prometheus.scrape, (text) =>
          valueOf(parsePrometheus(text), "http_requests_total", { method, route: "/widgets/:name", status }))
      const before = [yield* count("GET", "405"), yield* count("OPTIONS", "204")]
      expect((yield* send(port, "GET", "/widgets/w1")).status).toBe(405)
      expect((yield* send(port, "OPTIONS", "/widgets/w2")).status).toBe(204)
      // Counted when the response is on the wire: wait for it (a condition, not a duration).
      const counted = Effect.flatMap(Effect.all([count("GET", "405"), count("OPTIONS", "204")]), (now) =>
        now[0] === before[0]! + 1 && now[1] === before[1]! + 1 ? Effect.void : Effect.fail("not yet"))
      yield* Effect.retry(counted, { schedule: Schedule.spaced("10 millis"), times: 300 })
    }).pipe(Effect.provide(captureLogs().layer))), 10_000)

  it.live("client errors log at warn without a stack, with method and path; a body is never logged", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const { port } = yield* start
      yield* send(port, "PUT", "/healthz")
      yield* send(port, "GET", "/nope")
      yield* send(port, "GET", "/sleep?ms=x")
      const connection = yield* Effect.promise(() => RawConnection.open(port))
      const body = `{"size":"SECRET-abc"}`
      connection.write(`POST /widgets HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`)
      expect((yield* Effect.promise(() => connection.nextResponse())).status).toBe(400)
      const warns = logs.lines.filter((line) => line.level === "warn")
      expect(warns.map((line) => [line.kind, line.method, line.path])).toEqual([
        ["http method not allowed", "PUT", "/healthz"],
        ["http not found", "GET", "/nope"],
        ["http bad request", "GET", "/sleep"],
        ["http bad request", "POST", "/widgets"]
      ])
      expect(warns.every((line) => line.cause === undefined)).toBe(true)
      expect(logs.lines.filter((line) => line.level === "error")).toEqual([])
      expect(JSON.stringify(logs.lines)).not.toContain("SECRET-abc")
      // A client repeating itself cannot flood the log: lines per kind are capped per window.
      for (let i = 0; i < 3 * NodeEdge.CLIENT_ERROR_LINES_PER_WINDOW; i++) yield* send(port, "PUT", "/healthz")
      const refusedPuts = logs.lines.filter((line) => line.kind === "http method not allowed")
      expect(refusedPuts).toHaveLength(NodeEdge.CLIENT_ERROR_LINES_PER_WINDOW)
    }).pipe(Effect.provide(logs.layer)))
  }, 20_000)
})
