import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric, TestClock } from "effect"
import { EventEmitter } from "node:events"
import * as NodeEdge from "../../src/lifecycle/NodeEdge.js"
import { captureLogs } from "../support/captureLogs.js"

describe("NodeEdge", () => {
  it.effect("a throw inside a guarded Node callback fails only what it served, logs once at warn with the cause", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const edge = yield* NodeEdge.make
      const emitter = new EventEmitter()
      const failed: Array<string> = []
      emitter.on("message", edge.guard("test message", (id: string) => {
        if (id === "bad") throw new RangeError("Maximum call stack size exceeded")
      }, (_error, id) => failed.push(id)))
      // Unguarded, this emit would throw out of the emitter: an uncaught exception in production.
      expect(() => emitter.emit("message", "bad")).not.toThrow()
      emitter.emit("message", "good")
      expect(failed).toEqual(["bad"])
      const warns = logs.lines.filter((line) => line.level === "warn")
      expect(warns).toHaveLength(1)
      expect(warns[0]!.kind).toBe("test message")
      expect(String(warns[0]!.cause)).toContain("RangeError")
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("an onThrow that throws too is contained", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const edge = yield* NodeEdge.make
      const callback = edge.guard("test", () => {
        throw new Error("first")
      }, () => {
        throw new Error("second")
      })
      expect(() => callback()).not.toThrow()
      expect(logs.lines.filter((line) => line.level === "warn")).toHaveLength(1)
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("client errors log at warn without a stack, rate-limited per kind, and say how many were swallowed", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const edge = yield* NodeEdge.make
      for (let i = 0; i < 50; i++) edge.clientError("bad json", "invalid JSON", { i })
      edge.clientError("bad target", "unparseable request-target")
      const warns = () => logs.lines.filter((line) => line.level === "warn")
      expect(warns().filter((line) => line.kind === "bad json")).toHaveLength(NodeEdge.CLIENT_ERROR_LINES_PER_WINDOW)
      expect(warns().filter((line) => line.kind === "bad target")).toHaveLength(1)
      expect(warns().every((line) => line.cause === undefined)).toBe(true)
      yield* TestClock.adjust(NodeEdge.CLIENT_ERROR_WINDOW_MS)
      edge.clientError("bad json", "invalid JSON")
      expect(warns().at(-1)!.suppressedSinceLastLine).toBe(50 - NodeEdge.CLIENT_ERROR_LINES_PER_WINDOW)
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("client_errors_total counts what clients sent, not throws in our own callbacks (those are bugs)", () => {
    const logs = captureLogs()
    const counted = (kind: string) =>
      Metric.value(Metric.tagged(NodeEdge.clientErrors, "kind", kind)).pipe(Effect.map((state) => state.count))
    return Effect.gen(function*() {
      const edge = yield* NodeEdge.make
      edge.guard("edge test: our bug", () => {
        throw new Error("bug")
      })()
      edge.clientError("edge test: bad input", "refused")
      expect(yield* counted("edge test: our bug")).toBe(0)
      expect(yield* counted("edge test: bad input")).toBe(1)
      expect(logs.lines.filter((line) => line.level === "warn")).toHaveLength(2)
    }).pipe(Effect.provide(logs.layer))
  })
})
