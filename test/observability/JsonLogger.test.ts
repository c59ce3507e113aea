import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as JsonLogger from "../../src/observability/JsonLogger.js"

const capture = (level: "debug" | "info" | "warn" | "error" = "info") => {
  const raw: Array<string> = []
  const layer = Layer.merge(JsonLogger.layer("svc", (line) => raw.push(line)), JsonLogger.minimumLevel(level))
  return { raw, lines: () => raw.map((line) => JSON.parse(line) as Record<string, unknown>), layer }
}

describe("JsonLogger", () => {
  it.effect("one JSON object per line with timestamp, level, message, service, fiber and annotations", () => {
    const logs = capture()
    return Effect.gen(function*() {
      yield* Effect.logInfo("listening", { port: 8080 }).pipe(Effect.annotateLogs({ phase: "start", service: "ignored" }))
      expect(logs.raw).toHaveLength(1)
      expect(logs.raw[0]).not.toContain("\n")
      const [line] = logs.lines()
      expect(line).toEqual({
        timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        level: "info",
        message: "listening",
        service: "svc", // an annotation cannot overwrite a reserved field
        fiber: expect.stringMatching(/^#\d+$/),
        phase: "start",
        port: 8080
      })
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("a cause is rendered in full; an Error value is reduced to name and message", () => {
    const logs = capture()
    return Effect.gen(function*() {
      yield* Effect.logError("failed", { error: new TypeError("bad") }).pipe(
        Effect.zipRight(Effect.die(new Error("kaboom"))),
        Effect.catchAllCause((cause) => Effect.logError("request failed", cause))
      )
      const [plain, withCause] = logs.lines()
      expect(plain).toMatchObject({ level: "error", error: { name: "TypeError", message: "bad" } })
      expect(withCause).toMatchObject({ level: "error", message: "request failed" })
      expect(String(withCause!.cause)).toContain("kaboom")
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("inside a span, every line carries its traceId and spanId", () => {
    const logs = capture()
    return Effect.gen(function*() {
      const span = yield* Effect.currentSpan
      yield* Effect.logInfo("inside")
      const [line] = logs.lines()
      expect(line).toMatchObject({ traceId: span.traceId, spanId: span.spanId })
    }).pipe(Effect.withSpan("request"), Effect.provide(logs.layer))
  })

  it.effect("LOG_LEVEL drops lines below it", () => {
    const logs = capture("warn")
    return Effect.gen(function*() {
      yield* Effect.logDebug("d")
      yield* Effect.logInfo("i")
      yield* Effect.logWarning("w")
      yield* Effect.logError("e")
      expect(logs.lines().map((line) => [line.level, line.message])).toEqual([["warn", "w"], ["error", "e"]])
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("a field that cannot be serialised does not lose the line", () => {
    const logs = capture()
    const circular: Record<string, unknown> = {}
    circular.self = circular
    return Effect.gen(function*() {
      yield* Effect.logInfo("odd", { circular })
      expect(logs.lines()[0]).toMatchObject({ message: "odd", logError: "fields were not serialisable" })
    }).pipe(Effect.provide(logs.layer))
  })

})
