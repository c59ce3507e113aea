// The view behind GET /debug/shutdown, on TestClock: the phase and budget as the shutdown moves,
// the book of holders (merged by owner, gone with its scope) and the registry's `<kind>/<id>` rule.
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Scope, TestClock } from "effect"
import * as DrainView from "../../src/lifecycle/DrainView.js"
import * as FiberRegistry from "../../src/lifecycle/FiberRegistry.js"
import * as Shutdown from "../../src/lifecycle/Shutdown.js"
import { ShutdownReason } from "../../src/lifecycle/ShutdownReason.js"
import { captureLogs } from "../support/captureLogs.js"
import { leakCheck } from "../support/LeakCheck.js"

describe("DrainView.snapshot", () => {
  it.effect("serving, then the latest running phase, with the budget going down on the clock", () =>
    leakCheck(Effect.gen(function*() {
      const shutdown = yield* Shutdown.make(10_000)
      const registry = yield* FiberRegistry.make
      expect(yield* DrainView.snapshot(shutdown, registry)).toMatchObject({
        phase: "serving",
        runningPhases: [],
        reason: null,
        elapsedMs: 0,
        budgetMs: 10_000,
        budgetLeftMs: 10_000
      })
      yield* shutdown.trigger(ShutdownReason.Signal({ signal: "SIGTERM" }))
      expect(yield* DrainView.snapshot(shutdown, registry)).toMatchObject({ phase: "triggered", reason: "SIGTERM" })

      const inDrain = yield* Deferred.make<void>()
      const finish = yield* Deferred.make<void>()
      const release = yield* shutdown.phase("release")(
        shutdown.phase("drain")(Effect.zipRight(Deferred.succeed(inDrain, undefined), Deferred.await(finish)))
      ).pipe(Effect.fork)
      yield* Deferred.await(inDrain)
      yield* TestClock.adjust("1500 millis")
      const draining = yield* DrainView.snapshot(shutdown, registry)
      expect(draining).toMatchObject({ phase: "drain", runningPhases: ["release", "drain"], elapsedMs: 1_500, budgetLeftMs: 8_500 })
      yield* TestClock.adjust("2 seconds")
      expect((yield* DrainView.snapshot(shutdown, registry)).budgetLeftMs).toBe(6_500)
      yield* Deferred.succeed(finish, undefined)
      yield* Fiber.join(release)
      // Between phases: the last one started.
      expect(yield* DrainView.snapshot(shutdown, registry)).toMatchObject({ phase: "drain", runningPhases: [] })
      yield* TestClock.adjust("20 seconds")
      expect((yield* DrainView.snapshot(shutdown, registry)).budgetLeftMs).toBe(0)
    })).pipe(Effect.provide(captureLogs().layer)))

  it.effect("holding: the book merged by owner (gone with its scope) and one <kind> per <kind>/<id> fiber", () =>
    leakCheck(Effect.gen(function*() {
      const shutdown = yield* Shutdown.make(1_000)
      const registry = yield* FiberRegistry.make
      shutdown.holders.unsafeAdd("http.public", () => ({ requests: { "/sleep": 2 } }))
      shutdown.holders.unsafeAdd("http.public", () => ({ requests: { "/sleep": 1, "/jobs": 1 } }))
      const scope = yield* Scope.make()
      yield* Scope.extend(shutdown.holders.add("jobs", () => ({ running: 3 })), scope)
      const parked = Effect.never
      for (const name of ["ws.session/a", "ws.session/a/reader", "ws.session/b", "jobs.worker/1", "jobs.lease-keeper"]) {
        yield* registry.fork(name, name.startsWith("ws") ? "ws" : "jobs")(parked)
      }
      yield* registry.fork("GET /sleep", "http.public")(parked)
      yield* Effect.yieldNow()
      const view = yield* DrainView.snapshot(shutdown, registry)
      expect(view.holding).toEqual({
        "http.public": { requests: { "/sleep": 3, "/jobs": 1 } },
        jobs: { running: 3, "jobs.worker": 1 },
        ws: { "ws.session": 2 }
      })
      expect(view.fibers.map((fiber) => fiber.name).sort()).toContain("ws.session/a/reader")
      yield* Scope.close(scope, Exit.void)
      expect((yield* DrainView.snapshot(shutdown, registry)).holding.jobs).toEqual({ "jobs.worker": 1 })
    })))
})
