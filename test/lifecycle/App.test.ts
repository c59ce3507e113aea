// The main race and the release order, for every kind of trigger.
import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Layer, Logger, Option, Ref, Scope, TestClock } from "effect"
import { EventEmitter } from "node:events"
import * as App from "../../src/App.js"
import { ServeError } from "../../src/http/server/ServeError.js"
import { listenScoped } from "../../src/lifecycle/listenScoped.js"
import * as ProcessFaults from "../../src/lifecycle/ProcessFaults.js"
import { Shutdown } from "../../src/lifecycle/Shutdown.js"
import { exitCodeOf, FORCE_GRACE_MS } from "../../src/lifecycle/ShutdownRunner.js"
import { ShutdownReason } from "../../src/lifecycle/ShutdownReason.js"
import * as JsonLogger from "../../src/observability/JsonLogger.js"
import { captureLogs } from "../support/captureLogs.js"
import { makeHarness } from "../support/lifecycleHarness.js"
import { leakCheck } from "../support/LeakCheck.js"

const acquired = ["acquire A", "acquire B", "acquire C"]
const releasedInReverse = ["release C", "release B", "release A"]

describe("App.run: one exits, all exit", () => {
  const triggers = {
    "first signal": (h: Effect.Effect.Success<ReturnType<typeof makeHarness>>) => Effect.sync(() => h.emitter.emit("SIGTERM")),
    "admin (the latch)": () => Effect.flatMap(Shutdown, (shutdown) => shutdown.trigger(ShutdownReason.Admin())),
    "a raced server failing": (h: Effect.Effect.Success<ReturnType<typeof makeHarness>>) =>
      Deferred.fail(h.serverFailure, new ServeError({ server: "public", reason: "Runtime", cause: "EPIPE" })),
    "an uncaught exception": (h: Effect.Effect.Success<ReturnType<typeof makeHarness>>) =>
      Effect.sync(() => h.emitter.emit("uncaughtException", new Error("thrown in a callback")))
  } as const
  const expected = {
    "first signal": { reason: "SIGTERM", code: 0 },
    "admin (the latch)": { reason: "admin", code: 0 },
    "a raced server failing": { reason: "fatal", code: 1 },
    "an uncaught exception": { reason: "fatal", code: 1 }
  } as const

  for (const [name, trigger] of Object.entries(triggers)) {
    it.effect(`${name}: layers release in reverse order of acquisition`, () =>
      leakCheck(Effect.gen(function*() {
        const harness = yield* makeHarness()
        yield* Effect.gen(function*() {
          const main = yield* Effect.fork(App.run(harness.services))
          yield* Deferred.await(harness.started)
          expect(yield* Ref.get(harness.events)).toEqual(acquired)
          yield* trigger(harness)
          const code = yield* Fiber.join(main)
          expect(code).toBe(expected[name as keyof typeof expected].code)
          expect(yield* Ref.get(harness.events)).toEqual([...acquired, ...releasedInReverse])
          const shutdownLine = harness.logs.lines.find((line) => line.message === "shutdown")
          expect(shutdownLine?.reason).toBe(expected[name as keyof typeof expected].reason)
          expect(harness.logs.lines.filter((line) => line.message === "shutdown")).toHaveLength(1)
          expect(harness.exitCodes).toEqual([]) // nothing forced
          if (name === "an uncaught exception") {
            expect(String(shutdownLine?.cause)).toContain("thrown in a callback")
          }
        }).pipe(Effect.provide(harness.infrastructure))
      })))
  }

  it.effect("interrupted mid-run: every acquired layer is released once, in reverse, and the process listeners are gone", () =>
    leakCheck(Effect.gen(function*() {
      const harness = yield* makeHarness()
      yield* Effect.gen(function*() {
        const main = yield* Effect.fork(App.run(harness.services))
        yield* Deferred.await(harness.started)
        expect(harness.emitter.listenerCount("SIGTERM")).toBeGreaterThan(0)
        yield* Fiber.interrupt(main)
        expect(yield* Ref.get(harness.events)).toEqual([...acquired, ...releasedInReverse])
        expect(harness.emitter.listenerCount("SIGTERM")).toBe(0)
        expect(harness.emitter.listenerCount("uncaughtException")).toBe(0)
      }).pipe(Effect.provide(harness.infrastructure))
    })))

  it.effect("a layer failing after others were acquired: those are released in reverse, exit code 1", () =>
    leakCheck(Effect.gen(function*() {
      const harness = yield* makeHarness()
      const failing = Layer.effectDiscard(Effect.fail(new Error("cannot open the store"))).pipe(Layer.provideMerge(harness.services))
      yield* Effect.gen(function*() {
        expect(yield* App.run(failing)).toBe(1)
        expect(yield* Ref.get(harness.events)).toEqual([...acquired, ...releasedInReverse])
        expect(harness.emitter.listenerCount("SIGTERM")).toBe(0)
        expect(harness.logs.lines.find((line) => line.message === "startup failed")).toBeDefined()
      }).pipe(Effect.provide(harness.infrastructure))
    })))

  it.effect("a layer dying after others were acquired (a defect, not a failure): those are released too", () =>
    leakCheck(Effect.gen(function*() {
      const harness = yield* makeHarness()
      const dying = Layer.effectDiscard(Effect.dieMessage("a bug in a layer")).pipe(Layer.provideMerge(harness.services))
      yield* Effect.gen(function*() {
        const exit = yield* Effect.exit(App.run(dying))
        expect(Exit.isFailure(exit) && String(Cause.squash(exit.cause))).toContain("a bug in a layer")
        expect(yield* Ref.get(harness.events)).toEqual([...acquired, ...releasedInReverse])
        expect(harness.emitter.listenerCount("SIGTERM")).toBe(0)
      }).pipe(Effect.provide(harness.infrastructure))
    })))

  // No leak check here or below: a forced exit leaves the hung finalizer running on purpose; the
  // process dies under it.
  it.effect("a second signal forces the process out with 143 while a finalizer hangs", () =>
    Effect.gen(function*() {
      const harness = yield* makeHarness({ hangingRelease: true, budgetMs: 60_000 })
      yield* Effect.gen(function*() {
        yield* Effect.fork(App.run(harness.services))
        yield* Deferred.await(harness.started)
        harness.emitter.emit("SIGTERM")
        // Wait until the release has reached the hanging finalizer (C and B released, A not).
        yield* Effect.repeat(Ref.get(harness.events), { until: (events) => events.includes("release B") })
        harness.emitter.emit("SIGTERM")
        expect(harness.exitCodes).toEqual([143])
        expect(harness.logs.lines.find((line) => line.message === "forced exit: second signal")).toMatchObject({
          signal: "SIGTERM",
          exitCode: 143,
          finalizersSkipped: true
        })
      }).pipe(Effect.provide(harness.infrastructure))
    }))

  it.effect("a finalizer that hangs is cut at the deadline (budget + grace), not a tick earlier", () =>
    Effect.gen(function*() {
      const budgetMs = 2_000
      const harness = yield* makeHarness({ hangingRelease: true, budgetMs })
      yield* Effect.gen(function*() {
        const main = yield* Effect.fork(App.run(harness.services))
        yield* Deferred.await(harness.started)
        harness.emitter.emit("SIGINT")
        yield* Effect.repeat(Ref.get(harness.events), { until: (events) => events.includes("release B") })
        yield* TestClock.adjust(budgetMs + FORCE_GRACE_MS - 1)
        expect(Option.isNone(yield* Fiber.poll(main))).toBe(true)
        yield* TestClock.adjust(1)
        expect(yield* Fiber.join(main)).toBe(124)
        // A's release was skipped: the process is forced out under the hung finalizer.
        expect(yield* Ref.get(harness.events)).toEqual([...acquired, "release C", "release B"])
        expect(harness.logs.lines.find((line) => line.message === "shutdown deadline exceeded: forcing exit")).toMatchObject({
          finalizersSkipped: true,
          running: [expect.objectContaining({ name: "root scope release", owner: "main" })]
        })
      }).pipe(Effect.provide(harness.infrastructure))
    }))

  it.effect("a fatal fault whose drain also hit the deadline exits 1; the last line says both", () =>
    Effect.gen(function*() {
      const budgetMs = 2_000
      const harness = yield* makeHarness({ hangingRelease: true, budgetMs })
      yield* Effect.gen(function*() {
        const main = yield* Effect.fork(App.run(harness.services))
        yield* Deferred.await(harness.started)
        harness.emitter.emit("uncaughtException", new Error("thrown in a callback"))
        yield* Effect.repeat(Ref.get(harness.events), { until: (events) => events.includes("release B") })
        yield* TestClock.adjust(budgetMs + FORCE_GRACE_MS)
        expect(yield* Fiber.join(main)).toBe(1)
        expect(harness.logs.lines.find((line) => line.message === "shutdown deadline exceeded: forcing exit")).toBeDefined()
        expect(harness.logs.lines.at(-1)).toMatchObject({
          message: "shutdown complete",
          reason: "fatal",
          exitCode: 1,
          cutAtDeadline: true
        })
      }).pipe(Effect.provide(harness.infrastructure))
    }))
})

describe("exitCodeOf", () => {
  const closed = { _tag: "Closed", exit: Exit.void } as const
  const failedRelease = { _tag: "Closed", exit: Exit.die("finalizer threw") } as const
  const deadline = { _tag: "DeadlineExceeded" } as const
  it.each([
    ["clean", 0, closed, false, []],
    ["a finalizer failed", 1, failedRelease, false, []],
    ["the release hit the deadline", 124, deadline, false, []],
    ["work was cut at the deadline", 124, closed, false, ["request GET /sleep"]],
    ["fatal", 1, closed, true, []],
    ["fatal, and the release hit the deadline", 1, deadline, true, []],
    ["fatal, and work was cut at the deadline", 1, closed, true, ["request GET /sleep"]]
  ] as const)("%s -> %i", (_, code, outcome, fatal, forced) => {
    expect(exitCodeOf(outcome, fatal, forced)).toBe(code)
  })
})

describe("process-level listeners cannot throw into Node", () => {
  it.effect("a listener added with listenScoped that throws is contained and logged once at warn", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const emitter = new EventEmitter()
      yield* listenScoped(emitter, {
        SIGTERM: () => {
          throw new Error("in a signal listener")
        }
      })
      // Unguarded, the throw leaves emit: from a real `process` listener, an uncaught exception.
      expect(() => emitter.emit("SIGTERM")).not.toThrow()
      const warns = logs.lines.filter((line) => line.level === "warn")
      expect(warns).toHaveLength(1)
      expect(String(warns[0]!.cause)).toContain("in a signal listener")
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  })

  it.effect("a fault whose own log line raises another fault (stdout broken) does not loop", () =>
    Effect.gen(function*() {
      const emitter = new EventEmitter()
      const lines: Array<Record<string, unknown>> = []
      // Every line written "fails" the way an unguarded EPIPE did: an uncaught exception, a turn later.
      const failingStdout = Logger.replace(
        Logger.defaultLogger,
        JsonLogger.make("test", (line) => {
          lines.push(JSON.parse(line))
          setImmediate(() => emitter.emit("uncaughtException", new Error("write EPIPE")))
        })
      )
      yield* Effect.gen(function*() {
        const scope = yield* Scope.make()
        const faults = yield* Scope.extend(ProcessFaults.make(emitter), scope)
        emitter.emit("uncaughtException", new Error("first"))
        expect(String(yield* faults.fault)).toContain("first")
        const logged = 1 + ProcessFaults.LATER_FAULT_LINES
        // Let the chain run as far as it would: well past the point where it must have stopped.
        for (let turn = 0; turn < 200 && lines.length <= logged + 1; turn++) {
          yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
        }
        expect(lines).toHaveLength(logged)
        expect(lines.at(-1)).toMatchObject({ furtherFaultsCountedOnly: true })
        yield* Scope.close(scope, Exit.void)
        expect(lines.at(-1)).toMatchObject({ message: "faults not logged" })
      }).pipe(Effect.provide(failingStdout))
    }))
})