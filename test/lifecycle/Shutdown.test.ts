import { describe, expect, it } from "@effect/vitest"
import { Cause, Duration, Effect, Option, TestClock } from "effect"
import * as Shutdown from "../../src/lifecycle/Shutdown.js"
import { ShutdownReason } from "../../src/lifecycle/ShutdownReason.js"
import { captureLogs } from "../support/captureLogs.js"

describe("Shutdown latch", () => {
  it.effect("keeps the first reason; later triggers are logged and lose", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const shutdown = yield* Shutdown.make(1_000)
      expect(shutdown.unsafeIsShuttingDown()).toBe(false)
      expect(yield* shutdown.trigger(ShutdownReason.Admin())).toBe(true)
      expect(yield* shutdown.trigger(ShutdownReason.Signal({ signal: "SIGTERM" }))).toBe(false)
      expect(yield* shutdown.trigger(ShutdownReason.Fatal({ component: "test", cause: Cause.die("x") }))).toBe(false)
      expect(yield* shutdown.await).toEqual(ShutdownReason.Admin())
      expect(Option.getOrThrow(yield* shutdown.reason)._tag).toBe("Admin")
      expect(shutdown.unsafeIsShuttingDown()).toBe(true)
      expect(logs.lines.map((line) => [line.message, line.reason])).toEqual([
        ["shutdown", "admin"],
        ["shutdown already in progress", "SIGTERM"],
        ["shutdown already in progress", "fatal"]
      ])
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("one budget from the first trigger: remaining counts down and stops at zero", () =>
    Effect.gen(function*() {
      const shutdown = yield* Shutdown.make(1_000)
      // Before shutdown, a release gets the whole budget.
      expect(Duration.toMillis(yield* shutdown.remaining)).toBe(1_000)
      yield* TestClock.adjust("5 seconds")
      expect(Duration.toMillis(yield* shutdown.remaining)).toBe(1_000)
      yield* shutdown.trigger(ShutdownReason.Signal({ signal: "SIGINT" }))
      yield* TestClock.adjust("400 millis")
      expect(Duration.toMillis(yield* shutdown.remaining)).toBe(600)
      yield* shutdown.trigger(ShutdownReason.Admin()) // a later trigger does not restart the budget
      yield* TestClock.adjust("700 millis")
      expect(Duration.toMillis(yield* shutdown.remaining)).toBe(0)
      expect(yield* shutdown.elapsed).toBe(1_100)
    }).pipe(Effect.provide(captureLogs().layer)))

  it.effect("a Fatal reason logs its cause", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const shutdown = yield* Shutdown.make(1_000)
      yield* shutdown.trigger(ShutdownReason.Fatal({ component: "disk", cause: Cause.die(new Error("disk on fire")) }))
      expect(logs.lines[0]).toMatchObject({ message: "shutdown", reason: "fatal", component: "disk" })
      expect(String(logs.lines[0]!.cause)).toContain("disk on fire")
    }).pipe(Effect.provide(logs.layer))
  })
})
