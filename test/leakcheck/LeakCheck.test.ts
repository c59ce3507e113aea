// The leak check must be able to fail: a planted leak is caught, a clean test passes, and two
// tests running at once do not see each other's fibers.
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, Fiber, FiberSet, Runtime } from "effect"
import { FiberLeak, leakCheck } from "../support/LeakCheck.js"

describe("leakCheck", () => {
  it.effect("a planted leak (a forkDaemon that never ends) fails the check, naming the fiber and its span", () =>
    Effect.gen(function*() {
      const result = yield* Effect.either(leakCheck(
        Effect.forkDaemon(Effect.never.pipe(Effect.withSpan("planted-leak"))).pipe(Effect.asVoid)
      ))
      expect(Either.isLeft(result)).toBe(true)
      const leak = Either.getLeft(result).pipe((left) => left._tag === "Some" ? left.value : undefined)
      expect(leak).toBeInstanceOf(FiberLeak)
      expect((leak as FiberLeak).fibers).toEqual([{ fiber: expect.stringMatching(/^#\d+$/), span: "planted-leak" }])
      expect((leak as FiberLeak).message).toContain("planted-leak")
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
