// Signals.make on an EventEmitter standing in for `process`, time driven by TestClock: under a
// forwarding parent, copies of one keypress (the same signal within SameKeypressWindowMs) count
// once; a second signal after the window, or a different one at any time, forces the exit; run
// directly, every signal counts (the DESIGN contract the process tests check on node dist/main.js).
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, TestClock, TestServices } from "effect"
import { EventEmitter } from "node:events"
import * as FiberRegistry from "../../src/lifecycle/FiberRegistry.js"
import { ProcessExit } from "../../src/lifecycle/ProcessExit.js"
import * as Signals from "../../src/lifecycle/Signals.js"
import { captureLogs, type LogLine } from "../support/captureLogs.js"
import { leakCheck } from "../support/LeakCheck.js"

const setup = (options: Signals.Options) =>
  Effect.gen(function*() {
    const emitter = new EventEmitter()
    const exitCodes: Array<number> = []
    const logs = captureLogs()
    const signals = yield* Signals.make(emitter, options).pipe(
      Effect.provide(Layer.mergeAll(
        FiberRegistry.layer,
        Layer.succeed(ProcessExit, { now: (code) => Effect.sync(() => void exitCodes.push(code)) })
      )),
      Effect.provide(logs.layer)
    )
    // The outcome of the n-th signal is a log line (ignored, or forced); waited for on the real
    // clock, so a wrong decision fails here in seconds instead of hanging on the test clock.
    const nth = (n: number) =>
      TestServices.provideLive(logs.waitForLine(() =>
        logs.lines.filter((line) => line.message !== "signal received").length >= n
      )).pipe(Effect.map(() => logs.lines.filter((line) => line.message !== "signal received")[n - 1]!))
    return { emitter, exitCodes, logs, signals, nth }
  })

const ignored = (line: LogLine) => line.message === "signal ignored: a copy of the first (same keypress)"
const forced = (line: LogLine) => line.message === "forced exit: second signal"

describe("Signals", { timeout: 10_000 }, () => {
  it.effect("under a forwarding parent, the same signal within the window is a copy; after it, it forces 130", () =>
    leakCheck(Effect.gen(function*() {
      const { emitter, exitCodes, logs, nth, signals } = yield* setup({ forwardedBy: "node --watch" })
      emitter.emit("SIGINT")
      expect(yield* signals.received).toBe("SIGINT")
      expect(logs.lines[0]).toMatchObject({ message: "signal received", signal: "SIGINT", forwardedBy: "node --watch" })

      emitter.emit("SIGINT") // the forwarder's copy, at the same instant
      expect(yield* nth(1)).toMatchObject({ level: "info", signal: "SIGINT", sinceFirstMs: 0, forwardedBy: "node --watch" })
      yield* TestClock.adjust(Signals.SameKeypressWindowMs - 1)
      emitter.emit("SIGINT") // a slow forwarder's copy, at the window's last millisecond
      expect(yield* nth(2)).toMatchObject({ signal: "SIGINT", sinceFirstMs: Signals.SameKeypressWindowMs - 1 })
      expect([ignored(logs.lines[1]!), ignored(logs.lines[2]!)]).toEqual([true, true])
      expect(exitCodes).toEqual([])

      yield* TestClock.adjust(1)
      emitter.emit("SIGINT") // a human's second Ctrl-C, once the window has passed
      expect(forced(yield* nth(3))).toBe(true)
      expect(logs.lines.at(-1)).toMatchObject({ signal: "SIGINT", exitCode: 130, finalizersSkipped: true })
      expect(exitCodes).toEqual([130])
    })))

  it.effect("under a forwarding parent, a different signal within the window forces at once", () =>
    leakCheck(Effect.gen(function*() {
      const { emitter, exitCodes, nth } = yield* setup({ forwardedBy: "npm (start)" })
      emitter.emit("SIGINT")
      emitter.emit("SIGTERM")
      expect(yield* nth(1)).toMatchObject({ message: "forced exit: second signal", signal: "SIGTERM", exitCode: 143 })
      expect(exitCodes).toEqual([143])
    })))

  it.effect("run directly (no forwarding parent), the same signal at the same instant forces at once", () =>
    leakCheck(Effect.gen(function*() {
      const { emitter, exitCodes, logs, nth } = yield* setup({})
      emitter.emit("SIGTERM")
      emitter.emit("SIGTERM")
      expect(yield* nth(1)).toMatchObject({ message: "forced exit: second signal", signal: "SIGTERM", exitCode: 143 })
      expect(exitCodes).toEqual([143])
      expect(logs.lines[0]).not.toHaveProperty("sameKeypressWindowMs")
      expect(logs.lines.some(ignored)).toBe(false)
    })))

  it.effect("the forwarding parent is read from the markers node --watch and npm leave in the environment", () =>
    Effect.gen(function*() {
      const read = (env: Record<string, string>) =>
        Effect.withConfigProvider(Signals.forwardingParent, ConfigProvider.fromMap(new Map(Object.entries(env))))
      expect(yield* read({})).toBeUndefined()
      expect(yield* read({ WATCH_REPORT_DEPENDENCIES: "1", npm_lifecycle_event: "dev" })).toBe("node --watch")
      expect(yield* read({ npm_lifecycle_event: "start" })).toBe("npm (start)")
    }))
})
