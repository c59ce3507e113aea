import { describe, expect, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Exit, Option, Ref, Scope, TestClock } from "effect"
import * as FiberRegistry from "../../src/lifecycle/FiberRegistry.js"
import * as Shutdown from "../../src/lifecycle/Shutdown.js"
import { backoff, restartOnFailure, type RestartPolicy } from "../../src/lifecycle/Restart.js"
import { captureLogs } from "../support/captureLogs.js"
import { leakCheck } from "../support/LeakCheck.js"

const policy: RestartPolicy = { maxRestarts: 3, window: "10 seconds", initialDelay: "100 millis", maxDelay: "1 second" }

const setup = Effect.gen(function*() {
  const shutdown = yield* Shutdown.make(1_000)
  const registry = yield* FiberRegistry.make
  const starts = yield* Ref.make<ReadonlyArray<number>>([])
  const logs = captureLogs()
  /** A component that records when it started, then fails. */
  const failing = Effect.flatMap(Clock.currentTimeMillis, (now) => Ref.update(starts, (all) => [...all, now])).pipe(
    Effect.zipRight(Effect.fail("broken"))
  )
  const run = <A, E>(self: Effect.Effect<A, E, Shutdown.Shutdown | FiberRegistry.FiberRegistry | Scope.Scope>) =>
    self.pipe(
      Effect.provideService(Shutdown.Shutdown, shutdown),
      Effect.provideService(FiberRegistry.FiberRegistry, registry),
      Effect.provide(logs.layer)
    )
  return { shutdown, registry, starts, logs, failing, run }
})

describe("Restart.restartOnFailure", () => {
  it("backoff doubles from the initial delay and is capped", () => {
    expect([1, 2, 3, 4, 5].map((attempt) => backoff(policy, attempt)).map((d) => d.toJSON())).toEqual(
      [100, 200, 400, 800, 1000].map((ms) => ({ _id: "Duration", _tag: "Millis", millis: ms }))
    )
  })

  it.effect("restarts a failing component with exponential backoff, then escalates: Fatal naming it", () =>
    leakCheck(Effect.gen(function*() {
      const { failing, logs, run, shutdown, starts } = yield* setup
      yield* run(restartOnFailure("sampler", "observability", failing, policy))
      yield* TestClock.adjust(99)
      expect(yield* Ref.get(starts)).toEqual([0])
      yield* TestClock.adjust(1) // 100: first restart
      expect(yield* Ref.get(starts)).toEqual([0, 100])
      yield* TestClock.adjust(200) // 300
      yield* TestClock.adjust(400) // 700: third restart; its failure is the fourth in the window
      expect(yield* Ref.get(starts)).toEqual([0, 100, 300, 700])
      const reason = Option.getOrThrow(yield* shutdown.reason)
      expect(reason._tag === "Fatal" && reason.component).toBe("sampler")
      yield* TestClock.adjust("1 minute")
      expect(yield* Ref.get(starts)).toHaveLength(4) // escalated: no more restarts
      expect(logs.lines.filter((line) => line.message === "component failed: restarting").map((line) => line.delayMs))
        .toEqual([100, 200, 400])
      expect(logs.lines.find((line) => line.message === "component failed too often: escalating")).toMatchObject({
        component: "sampler",
        failures: 4
      })
    })))

  it.effect("failures older than the window do not count towards escalation", () =>
    leakCheck(Effect.gen(function*() {
      const { registry, run, shutdown, starts } = yield* setup
      // Fails at once on its first start, then every 20 s (twice the window).
      const slowFailing = Effect.flatMap(Clock.currentTimeMillis, (now) => Ref.update(starts, (all) => [...all, now])).pipe(
        Effect.zipRight(Effect.flatMap(Ref.get(starts), (all) => all.length === 1 ? Effect.void : Effect.sleep("20 seconds"))),
        Effect.zipRight(Effect.fail("broken"))
      )
      yield* run(restartOnFailure("compactor", "jobs", slowFailing, policy))
      for (let i = 0; i < 10; i++) yield* TestClock.adjust("21 seconds")
      expect((yield* Ref.get(starts)).length).toBeGreaterThan(policy.maxRestarts + 1)
      expect(shutdown.unsafeIsShuttingDown()).toBe(false)
      expect(registry.size()).toBe(1)
    })))

  it.effect("a defect counts as a failure: restarted with the same backoff (Effect.retry alone retries failures only)", () =>
    leakCheck(Effect.gen(function*() {
      const { logs, run, starts } = yield* setup
      const dying = Effect.flatMap(Clock.currentTimeMillis, (now) => Ref.update(starts, (all) => [...all, now])).pipe(
        Effect.zipRight(Effect.dieMessage("bug"))
      )
      yield* run(restartOnFailure("sampler", "observability", dying, policy))
      yield* TestClock.adjust(300)
      expect(yield* Ref.get(starts)).toEqual([0, 100, 300])
      expect(logs.lines.filter((line) => line.message === "component failed: restarting").map((line) => line.delayMs))
        .toEqual([100, 200, 400])
    })))

  it.effect("a component that interrupts itself stops: no restart, no escalation", () =>
    leakCheck(Effect.gen(function*() {
      const { logs, run, shutdown, starts } = yield* setup
      const quitting = Effect.zipRight(Ref.update(starts, (all) => [...all, 0]), Effect.interrupt)
      yield* run(restartOnFailure("worker", "jobs", quitting, policy))
      yield* TestClock.adjust("1 minute")
      expect(yield* Ref.get(starts)).toEqual([0])
      expect(shutdown.unsafeIsShuttingDown()).toBe(false)
      expect(logs.lines.filter((line) => String(line.message).startsWith("component"))).toEqual([])
    })))

  it.effect("the owner's interruption stops it without a restart, and it leaves the registry", () =>
    leakCheck(Effect.gen(function*() {
      const { logs, registry, run, starts } = yield* setup
      const started = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      const longRunning = Effect.zipRight(Ref.update(starts, (all) => [...all, 0]), Deferred.succeed(started, undefined)).pipe(
        Effect.zipRight(Effect.never),
        Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
      )
      const owner = yield* Scope.make()
      yield* run(restartOnFailure("worker", "jobs", longRunning, policy)).pipe(Scope.extend(owner))
      yield* Deferred.await(started)
      expect(yield* registry.snapshot).toMatchObject([{ name: "worker", owner: "jobs" }])
      yield* Scope.close(owner, Exit.void)
      yield* Deferred.await(interrupted)
      yield* TestClock.adjust("1 minute")
      expect(yield* Ref.get(starts)).toEqual([0])
      expect(registry.size()).toBe(0)
      expect(logs.lines.filter((line) => String(line.message).startsWith("component"))).toEqual([])
    })))
})
