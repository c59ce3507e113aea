// The access log on the real public server (App.ts's makePublicListener, a real socket): one line
// per request with the route template, status, duration and the request's trace, at info with
// LOG_REQUESTS, at debug otherwise, and none at all at LOG_LEVEL=info by default.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger, LogLevel } from "effect"
import * as AccessLog from "../../src/http/AccessLog.js"
import { captureLogs, type LogLine } from "../support/captureLogs.js"
import { leakCheck } from "../support/LeakCheck.js"
import { startPublic } from "../support/publicServer.js"

const fetchSleep = (baseUrl: string) =>
  Effect.promise(async () => {
    const response = await fetch(`${baseUrl}/sleep?ms=1`)
    await response.text()
    return { status: response.status, traceId: response.headers.get("x-trace-id") }
  })

const accessLines = (lines: ReadonlyArray<LogLine>) => lines.filter((line) => line.message === "request")

/** Runs one /sleep request, then a second one, and returns the access lines of the first. A line is
 * written before its response goes out, so after the second response every line of the first is in. */
const firstRequestLines = (options: { readonly logRequests: boolean; readonly level: LogLevel.LogLevel }) => {
  const logs = captureLogs()
  return leakCheck(Effect.gen(function*() {
    const { baseUrl } = yield* startPublic({ config: { LOG_REQUESTS: String(options.logRequests) } })
    const first = yield* fetchSleep(baseUrl)
    const linesBefore = accessLines(logs.lines).length
    yield* fetchSleep(baseUrl)
    return { first, lines: accessLines(logs.lines).slice(0, linesBefore), total: accessLines(logs.lines).length }
  }).pipe(Effect.provide(Logger.minimumLogLevel(options.level)), Effect.provide(logs.layer)))
}

describe("access log", () => {
  it.live("LOG_REQUESTS=true: exactly one info line per request, with the route template and the response's trace id", () =>
    Effect.gen(function*() {
      const { first, lines, total } = yield* firstRequestLines({ logRequests: true, level: LogLevel.Info })
      expect(first.status).toBe(200)
      expect(lines).toHaveLength(1)
      expect(total).toBe(2)
      const line = lines[0]!
      expect(line).toMatchObject({ level: "info", server: "public", method: "GET", route: "/sleep", status: 200, traceId: first.traceId })
      expect(line.spanId).toMatch(/^[0-9a-f]{16}$/)
      expect(line.durationMs).toBeTypeOf("number")
      expect(line.durationMs as number).toBeGreaterThan(0)
      expect(JSON.stringify(line)).not.toContain("ms=1") // the template, never the raw target
    }), 20_000)

  it.live("default config at LOG_LEVEL=info: no access line", () =>
    Effect.gen(function*() {
      const { first, total } = yield* firstRequestLines({ logRequests: false, level: LogLevel.Info })
      expect(first.status).toBe(200)
      expect(total).toBe(0)
    }), 20_000)

  it.live("LOG_LEVEL=debug: one debug line per request", () =>
    Effect.gen(function*() {
      const { first, lines, total } = yield* firstRequestLines({ logRequests: false, level: LogLevel.Debug })
      expect(lines).toHaveLength(1)
      expect(total).toBe(2)
      expect(lines[0]).toMatchObject({ level: "debug", method: "GET", route: "/sleep", status: 200, traceId: first.traceId })
    }), 20_000)

  it.live("LOG_REQUESTS=true but LOG_LEVEL=warn: nothing (the minimum level wins)", () =>
    Effect.gen(function*() {
      const { total } = yield* firstRequestLines({ logRequests: true, level: LogLevel.Warning })
      expect(total).toBe(0)
    }), 20_000)

  it.live("unknown paths share the route label unmatched, with their real status", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const { baseUrl } = yield* startPublic({ config: { LOG_REQUESTS: "true" } })
      const status = yield* Effect.promise(async () => {
        const response = await fetch(`${baseUrl}/no/such/thing/42`)
        await response.text()
        return response.status
      })
      expect(status).toBe(404)
      expect(accessLines(logs.lines)).toMatchObject([{ route: "unmatched", status: 404, method: "GET" }])
    }).pipe(Effect.provide(logs.layer)))
  }, 20_000)
})

describe("AccessLog.levelFor: decided once, before any request", () => {
  it.each([
    [true, LogLevel.Info, LogLevel.Info],
    [false, LogLevel.Info, undefined],
    [false, LogLevel.Debug, LogLevel.Debug],
    [true, LogLevel.Debug, LogLevel.Info],
    [true, LogLevel.Warning, undefined]
  ] as const)("LOG_REQUESTS=%s at minimum %s -> %s", (logRequests, minimum, expected) => {
    expect(AccessLog.levelFor(logRequests, minimum)).toBe(expected)
  })
})
