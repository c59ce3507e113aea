// The leak check must be able to fail: a planted leak is caught and named (label and owner), a
// clean test passes, and two tests running at once do not see each other's fibers.
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, Fiber, FiberId, FiberSet, Runtime } from "effect"
import * as FiberRegistry from "../../src/lifecycle/FiberRegistry.js"
import { FiberLeak, leakCheck } from "../support/LeakCheck.js"

const leakOf = <A, E>(result: Either.Either<A, E | FiberLeak>): FiberLeak => {
  expect(Either.isLeft(result)).toBe(true)
  const leak = Either.getLeft(result).pipe((left) => left._tag === "Some" ? left.value : undefined)
  expect(leak).toBeInstanceOf(FiberLeak)
  return leak as FiberLeak
}

describe("leakCheck", () => {
  it.effect("a planted leak (a forkDaemon that never ends) fails the check, naming the fiber, its span and the test that forked it", () =>
    Effect.gen(function*() {
      const result = yield* Effect.either(leakCheck(
        Effect.forkDaemon(Effect.never.pipe(Effect.withSpan("planted-leak"))).pipe(Effect.asVoid)
      ))
      const leak = leakOf(result)
      expect(leak.fibers).toEqual([{
        fiber: expect.stringMatching(/^#\d+$/),
        label: "planted-leak",
        owner: expect.stringMatching(/^fiber #\d+ \(the test itself\)$/),
        span: "planted-leak"
      }])
      expect(leak.message).toMatch(/^1 fiber\(s\) outlived the test: #\d+ labelled "planted-leak", owned by fiber #\d+ \(the test itself\)$/)
    }))

  it.effect("a leaked fiber listed in a FiberRegistry is named as /debug/fibers names it: its name and owner", () =>
    Effect.gen(function*() {
      const registry = yield* FiberRegistry.make
      const result = yield* Effect.either(leakCheck(
        Effect.asVoid(Effect.forkDaemon(registry.track("jobs.worker/7", "jobs")(Effect.never))).pipe(
          Effect.provideService(FiberRegistry.FiberRegistry, registry)
        )
      ))
      const leak = leakOf(result)
      expect(leak.fibers).toEqual([{ fiber: expect.stringMatching(/^#\d+$/), label: "jobs.worker/7", owner: "\"jobs\"", span: undefined }])
      expect(leak.message).toMatch(/^1 fiber\(s\) outlived the test: #\d+ labelled "jobs.worker\/7", owned by "jobs"$/)
    }))

  it.effect("an unregistered fiber forked by another fiber names that fiber and the span it forked from", () =>
    Effect.gen(function*() {
      const forked = yield* Deferred.make<string>()
      const result = yield* Effect.either(leakCheck(Effect.gen(function*() {
        const middle = yield* Effect.fork(Effect.gen(function*() {
          yield* Effect.forkDaemon(Effect.never.pipe(Effect.withSpan("outbox-pump")))
          yield* Deferred.succeed(forked, FiberId.threadName(yield* Effect.fiberId))
        }).pipe(Effect.withSpan("Hub.accept")))
        yield* Fiber.join(middle)
      })))
      const leak = leakOf(result)
      const parent = yield* Deferred.await(forked)
      expect(leak.fibers).toEqual([{ fiber: expect.stringMatching(/^#\d+$/), label: "outbox-pump", owner: `fiber ${parent} (in span "Hub.accept")`, span: "outbox-pump" }])
      expect(leak.message).toContain(`labelled "outbox-pump", owned by fiber ${parent} (in span "Hub.accept")`)
    }))

  it.effect("fibers owned by the test's scope are not leaks: the scope interrupts them before the check", () =>
    Effect.gen(function*() {
      const value = yield* leakCheck(Effect.gen(function*() {
        yield* Effect.forkScoped(Effect.never)
        const set = yield* FiberSet.make()
        yield* FiberSet.run(set, Effect.never)
        const child = yield* Effect.fork(Effect.succeed(1))
        return yield* Fiber.join(child)
      }))
      expect(value).toBe(1)
    }))

  it.effect("a fiber started through a runtime captured in the test is seen too (as request fibers are)", () =>
    Effect.gen(function*() {
      const result = yield* Effect.either(leakCheck(Effect.gen(function*() {
        const runtime = yield* Effect.runtime<never>()
        const started = yield* Deferred.make<void>()
        // Started outside any scope the test owns, the way a node callback would start it.
        void Runtime.runFork(runtime)(Effect.zipRight(Deferred.succeed(started, undefined), Effect.never))
        yield* Deferred.await(started)
      })))
      expect(Either.isLeft(result)).toBe(true)
      expect(leakOf(result).message).toMatch(
        /^1 fiber\(s\) outlived the test: #\d+ labelled "unlabelled", owned by no fiber \(started by a runtime: Runtime\.runFork or a Node callback\)$/
      )
    }))

  it.effect("two checks running at once see only their own fibers", () =>
    Effect.gen(function*() {
      const [leaky, clean] = yield* Effect.all([
        Effect.either(leakCheck(Effect.asVoid(Effect.forkDaemon(Effect.never)))),
        Effect.either(leakCheck(Effect.gen(function*() {
          yield* Effect.forkScoped(Effect.never)
          yield* Effect.yieldNow()
        })))
      ], { concurrency: "unbounded" })
      expect(Either.isLeft(leaky)).toBe(true)
      expect(Either.isLeft(leaky) && leaky.left.fibers).toHaveLength(1)
      expect(Either.isRight(clean)).toBe(true)
    }))

  it.effect("a failing test keeps its own failure when it leaks nothing", () =>
    Effect.gen(function*() {
      const result = yield* Effect.either(leakCheck(Effect.fail("boom" as const)))
      expect(result).toEqual(Either.left("boom"))
    }))
})
