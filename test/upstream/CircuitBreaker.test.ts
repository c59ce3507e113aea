// The breaker's state machine, driven by TestClock: closed -> open -> half-open -> closed/open.
import { describe, expect, it } from "@effect/vitest"
import { Cause, Data, Deferred, Effect, Either, Exit, Fiber, Metric, Ref, TestClock } from "effect"
import { type CircuitBreaker, make, stateGauge } from "../../src/upstream/CircuitBreaker.js"
import { captureLogs } from "../support/captureLogs.js"
import { leakCheck } from "../support/LeakCheck.js"

class Boom extends Data.TaggedError("Boom")<{}> {}

/** Runs `n` failing calls through the breaker and returns what each failed with. */
const failTimes = (breaker: CircuitBreaker, n: number) =>
  Effect.replicateEffect(Effect.flip(breaker.protect(Effect.fail(new Boom()))), n)

/** A call that says it has started, then waits for `gate`: a trial the test holds in flight. */
const held = <A, E>(started: Deferred.Deferred<void>, gate: Deferred.Deferred<A, E>) =>
  Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(gate))

const openBreaker = (name: string) =>
  Effect.tap(make({ name, failures: 2, resetMs: 1_000 }), (breaker) => failTimes(breaker, 2))

describe("CircuitBreaker", { timeout: 5_000 }, () => {
  it.effect("stays closed below N consecutive failures; a success resets the count", () =>
    Effect.gen(function*() {
      const breaker = yield* make({ name: "below-threshold", failures: 3, resetMs: 1_000 })
      const errors = yield* failTimes(breaker, 2)
      expect(errors.map((error) => error._tag)).toEqual(["Boom", "Boom"])
      yield* breaker.protect(Effect.void)
      yield* failTimes(breaker, 2)
      expect(yield* breaker.state).toBe("closed")
      yield* failTimes(breaker, 1)
      expect(yield* breaker.state).toBe("open")
    }))

  it.effect("opens after N consecutive failures; while open it refuses at once with the time left, never running self", () =>
    Effect.gen(function*() {
      const breaker = yield* make({ name: "opens", failures: 2, resetMs: 1_000 })
      const runs = yield* Ref.make(0)
      const counted = Effect.zipRight(Ref.update(runs, (n) => n + 1), Effect.fail(new Boom()))
      yield* Effect.flip(breaker.protect(counted))
      yield* Effect.flip(breaker.protect(counted))
      expect(yield* breaker.state).toBe("open")
      yield* TestClock.adjust(300)
      expect(yield* Effect.flip(breaker.protect(counted))).toMatchObject({ _tag: "CircuitOpen", name: "opens", retryAfterMs: 700 })
      yield* TestClock.adjust(699)
      expect(yield* Effect.flip(breaker.protect(counted))).toMatchObject({ _tag: "CircuitOpen", retryAfterMs: 1 })
      expect(yield* Ref.get(runs)).toBe(2)
      expect(yield* breaker.state).toBe("open")
    }))

  it.effect("after resetMs exactly one trial runs, a call during it is refused, and its success closes the breaker", () =>
    leakCheck(Effect.gen(function*() {
      const breaker = yield* openBreaker("trial-success")
      yield* TestClock.adjust(1_000)
      const runs = yield* Ref.make(0)
      const started = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<string>()
      const trial = yield* Effect.fork(breaker.protect(Effect.zipRight(Ref.update(runs, (n) => n + 1), held(started, gate))))
      yield* Deferred.await(started)
      expect(yield* breaker.state).toBe("half-open")
      const second = yield* Effect.flip(breaker.protect(Ref.update(runs, (n) => n + 1)))
      expect(second).toMatchObject({ _tag: "CircuitOpen", name: "trial-success", retryAfterMs: 1 })
      yield* Deferred.succeed(gate, "ok")
      expect(yield* Fiber.join(trial)).toBe("ok")
      expect(yield* Ref.get(runs)).toBe(1)
      expect(yield* breaker.state).toBe("closed")
      yield* failTimes(breaker, 1) // the count starts again from zero
      expect(yield* breaker.state).toBe("closed")
    })))

  it.effect("ten calls arriving together after resetMs: one becomes the trial, nine are refused", () =>
    leakCheck(Effect.gen(function*() {
      const breaker = yield* openBreaker("trial-race")
      yield* TestClock.adjust(1_000)
      const started = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      const calls = yield* Effect.fork(
        Effect.all(Array.from({ length: 10 }, () => Effect.either(breaker.protect(held(started, gate)))), { concurrency: "unbounded" })
      )
      yield* Deferred.await(started)
      yield* Deferred.succeed(gate, undefined)
      const results = yield* Fiber.join(calls)
      expect(results.filter(Either.isRight)).toHaveLength(1)
      expect(results.filter((result) => Either.isLeft(result) && result.left._tag === "CircuitOpen")).toHaveLength(9)
    })))

  it.effect("a failed trial opens the breaker again from the instant it failed", () =>
    Effect.gen(function*() {
      const breaker = yield* openBreaker("trial-failure") // open at t=0
      yield* TestClock.adjust(1_000)
      // The trial fails 100ms after it was let in, at t=1100.
      const error = yield* Effect.flip(breaker.protect(Effect.zipRight(TestClock.adjust(100), Effect.fail(new Boom()))))
      expect(error._tag).toBe("Boom")
      expect(yield* breaker.state).toBe("open")
      expect(yield* Effect.flip(breaker.protect(Effect.void))).toMatchObject({ _tag: "CircuitOpen", retryAfterMs: 1_000 })
      yield* TestClock.adjust(999)
      expect(yield* Effect.flip(breaker.protect(Effect.void))).toMatchObject({ _tag: "CircuitOpen", retryAfterMs: 1 })
      yield* TestClock.adjust(1)
      expect(yield* breaker.protect(Effect.succeed("trial"))).toBe("trial")
      expect(yield* breaker.state).toBe("closed")
    }))

  it.effect("a defect counts as a failure and reaches the caller unchanged", () =>
    Effect.gen(function*() {
      const breaker = yield* make({ name: "defects", failures: 2, resetMs: 1_000 })
      const exit = yield* Effect.exit(breaker.protect(Effect.die("bug")))
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      expect(yield* breaker.state).toBe("closed")
      yield* Effect.exit(breaker.protect(Effect.dieMessage("another bug")))
      expect(yield* breaker.state).toBe("open")
    }))

  it.effect("an interrupted call is neither a failure nor a success", () =>
    leakCheck(Effect.gen(function*() {
      const breaker = yield* make({ name: "interrupted-closed", failures: 2, resetMs: 1_000 })
      yield* failTimes(breaker, 1)
      const started = yield* Deferred.make<void>()
      const call = yield* Effect.fork(breaker.protect(held(started, yield* Deferred.make<void>())))
      yield* Deferred.await(started)
      expect(Exit.isInterrupted(yield* Fiber.interrupt(call))).toBe(true)
      expect(yield* breaker.state).toBe("closed") // as a failure it would have opened the breaker
      yield* failTimes(breaker, 1)
      expect(yield* breaker.state).toBe("open") // as a success it would have reset the count
    })))

  it.effect("an interrupted trial leaves the breaker half-open, and the next call is the trial", () =>
    leakCheck(Effect.gen(function*() {
      const breaker = yield* openBreaker("interrupted-trial")
      yield* TestClock.adjust(1_000)
      const started = yield* Deferred.make<void>()
      const trial = yield* Effect.fork(breaker.protect(held(started, yield* Deferred.make<void>())))
      yield* Deferred.await(started)
      yield* Fiber.interrupt(trial)
      expect(yield* breaker.state).toBe("half-open")
      expect(yield* breaker.protect(Effect.succeed("next trial"))).toBe("next trial")
      expect(yield* breaker.state).toBe("closed")
    })))

  it.effect("the circuit_breaker_state{name} gauge follows every transition: 0 closed, 1 open, 2 half-open", () =>
    leakCheck(Effect.gen(function*() {
      const gauge = stateGauge("metric-gauge")
      const breaker = yield* openBreaker("metric-gauge")
      expect((yield* Metric.value(gauge)).value).toBe(1)
      yield* TestClock.adjust(1_000)
      const started = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      const trial = yield* Effect.fork(breaker.protect(held(started, gate)))
      yield* Deferred.await(started)
      expect((yield* Metric.value(gauge)).value).toBe(2)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(trial)
      expect((yield* Metric.value(gauge)).value).toBe(0)
    })))

  it.effect("countInterruption: an interrupted call is a failure, recorded once, and opens the breaker at N", () =>
    leakCheck(Effect.gen(function*() {
      const breaker = yield* make({ name: "interruption-counts", failures: 2, resetMs: 1_000, countInterruption: true })
      for (let n = 1; n <= 2; n++) {
        const started = yield* Deferred.make<void>()
        const call = yield* Effect.fork(breaker.protect(held(started, yield* Deferred.make<void>())))
        yield* Deferred.await(started)
        expect(Exit.isInterrupted(yield* Fiber.interrupt(call))).toBe(true)
        expect(yield* breaker.state).toBe(n === 1 ? "closed" : "open")
      }
      expect(yield* Effect.flip(breaker.protect(Effect.void))).toMatchObject({ _tag: "CircuitOpen", retryAfterMs: 1_000 })
    })))

  it.effect("countInterruption: an interrupted trial opens the breaker again from the instant it was cut", () =>
    leakCheck(Effect.gen(function*() {
      const breaker = yield* make({ name: "interrupted-trial-counts", failures: 1, resetMs: 1_000, countInterruption: true })
      yield* failTimes(breaker, 1) // open at t=0
      yield* TestClock.adjust(1_000)
      const started = yield* Deferred.make<void>()
      const trial = yield* Effect.fork(breaker.protect(held(started, yield* Deferred.make<void>())))
      yield* Deferred.await(started)
      yield* TestClock.adjust(300)
      yield* Fiber.interrupt(trial) // cut at t=1300
      expect(yield* breaker.state).toBe("open")
      expect(yield* Effect.flip(breaker.protect(Effect.void))).toMatchObject({ _tag: "CircuitOpen", retryAfterMs: 1_000 })
      yield* TestClock.adjust(1_000)
      expect(yield* breaker.protect(Effect.succeed("trial"))).toBe("trial")
      expect(yield* breaker.state).toBe("closed")
    })))

  it.effect("every transition is logged once, with what caused it; refusals and non-transitions write nothing", () => {
    const logs = captureLogs()
    const transitions = () =>
      logs.lines.filter((line) => String(line.message).startsWith("circuit breaker ")).map((line) => [line.level, line.message, line.reason])
    return leakCheck(Effect.gen(function*() {
      const breaker = yield* make({ name: "logged", failures: 2, resetMs: 1_000 })
      yield* failTimes(breaker, 1)
      expect(transitions()).toEqual([]) // one failure below the threshold is no transition
      yield* failTimes(breaker, 1) // opens at t=0
      yield* failTimes(breaker, 3) // refused while open: no line each
      const opened = logs.lines.find((line) => line.message === "circuit breaker open")
      expect(opened).toMatchObject({ breaker: "logged", from: "closed", to: "open", failures: 2, resetMs: 1_000 })
      expect(String(opened?.cause)).toContain("Boom") // the failure that opened it
      yield* TestClock.adjust(1_000)
      // An interrupted trial leaves it half-open; the next call is the trial: still one half-open line.
      const started = yield* Deferred.make<void>()
      const interrupted = yield* Effect.fork(breaker.protect(held(started, yield* Deferred.make<void>())))
      yield* Deferred.await(started)
      yield* Fiber.interrupt(interrupted)
      expect(logs.lines.find((line) => line.message === "circuit breaker half-open")).toMatchObject({
        breaker: "logged",
        from: "open",
        to: "half-open",
        openForMs: 1_000
      })
      yield* Effect.flip(breaker.protect(Effect.fail(new Boom()))) // the next trial fails: open again
      yield* TestClock.adjust(1_000)
      yield* breaker.protect(Effect.void) // a trial that succeeds: closed
      expect(logs.lines.find((line) => line.message === "circuit breaker closed")).toMatchObject({
        breaker: "logged",
        from: "half-open",
        to: "closed"
      })
      expect(transitions()).toEqual([
        ["warn", "circuit breaker open", "2 consecutive failures (the last failed)"],
        ["info", "circuit breaker half-open", "reset timeout elapsed: one trial call let through"],
        ["warn", "circuit breaker open", "trial call failed"],
        ["info", "circuit breaker half-open", "reset timeout elapsed: one trial call let through"],
        ["info", "circuit breaker closed", "trial call succeeded"]
      ])
    })).pipe(Effect.provide(logs.layer))
  })

  it.effect("countInterruption: a breaker opened by interrupted calls says so", () => {
    const logs = captureLogs()
    return leakCheck(Effect.gen(function*() {
      const breaker = yield* make({ name: "logged-interruptions", failures: 1, resetMs: 1_000, countInterruption: true })
      const started = yield* Deferred.make<void>()
      const call = yield* Effect.fork(breaker.protect(held(started, yield* Deferred.make<void>())))
      yield* Deferred.await(started)
      yield* Fiber.interrupt(call)
      const opened = logs.lines.filter((line) => line.message === "circuit breaker open")
      expect(opened).toHaveLength(1)
      expect(opened[0]).toMatchObject({ breaker: "logged-interruptions", reason: "1 consecutive failures (the last interrupted)" })
    })).pipe(Effect.provide(logs.layer))
  })
})
