// Go:
//   go func() {
//     defer cleanup()      // runs
//     deep()               // deep() calls runtime.Goexit(): the goroutine ends here
//     fmt.Println("never") // and recover() cannot stop it
//   }()
// Effect: interruption. It ends a fiber from any depth, every finalizer on the way out runs,
// `catchAll` / `catchAllCause` do not catch it, and `onInterrupt` is how to observe it.
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Ref } from "effect"
import { leakCheck } from "../support/LeakCheck.js"

describe("runtime.Goexit -> fiber interruption", { timeout: 10_000 }, () => {
  it.effect("interruption from any depth runs every enclosing finalizer, innermost first", () =>
    leakCheck(Effect.gen(function*() {
      const events = yield* Ref.make<ReadonlyArray<string>>([])
      const record = (event: string) => Ref.update(events, (all) => [...all, event])
      const deep = Effect.interrupt.pipe(Effect.zipRight(record("never")), Effect.ensuring(record("defer deep")))
      const middle = deep.pipe(Effect.ensuring(record("defer middle")))
      const top = Effect.scoped(Effect.addFinalizer(() => record("defer top")).pipe(Effect.zipRight(middle)))
      const exit = yield* Fiber.await(yield* Effect.fork(top))
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(yield* Ref.get(events)).toEqual(["defer deep", "defer middle", "defer top"])
    })))

  it.effect("catchAll and catchAllCause cannot recover an interrupted fiber; onInterrupt observes it", () =>
    leakCheck(Effect.gen(function*() {
      const events = yield* Ref.make<ReadonlyArray<string>>([])
      const record = (event: string) => Ref.update(events, (all) => [...all, event])
      const started = yield* Deferred.make<void>()
      const fiber = yield* Deferred.succeed(started, undefined).pipe(
        Effect.zipRight(Effect.never),
        Effect.onInterrupt(() => record("onInterrupt")),
        Effect.catchAll(() => record("catchAll handler")),
        Effect.catchAllCause(() => record("catchAllCause handler")),
        Effect.fork
      )
      yield* Deferred.await(started)
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(yield* Ref.get(events)).toEqual(["onInterrupt"])
    })))

  it.effect("Effect.interrupt is not a typed error either: catchAll does not run for it", () =>
    Effect.gen(function*() {
      const handled = yield* Ref.make(false)
      const exit = yield* Effect.interrupt.pipe(Effect.catchAll(() => Ref.set(handled, true)), Effect.exit)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(yield* Ref.get(handled)).toBe(false)
    }))

  it.effect("a fiber interrupted before it starts runs nothing, so its finalizer never runs", () =>
    leakCheck(Effect.gen(function*() {
      const events = yield* Ref.make<ReadonlyArray<string>>([])
      const fiber = yield* Effect.fork(Effect.never.pipe(Effect.ensuring(Ref.update(events, (all) => [...all, "finalizer"]))))
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(yield* Ref.get(events)).toEqual([])
    })))

  it.effect("the fix: wait until the fiber says it started, then its finalizer runs", () =>
    leakCheck(Effect.gen(function*() {
      const events = yield* Ref.make<ReadonlyArray<string>>([])
      const started = yield* Deferred.make<void>()
      const fiber = yield* Deferred.succeed(started, undefined).pipe(
        Effect.zipRight(Effect.never),
        Effect.ensuring(Ref.update(events, (all) => [...all, "finalizer"])),
        Effect.fork
      )
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      expect(yield* Ref.get(events)).toEqual(["finalizer"])
    })))

  it.effect("Effect.uninterruptible delays the interruption until the region has finished", () =>
    leakCheck(Effect.gen(function*() {
      const events = yield* Ref.make<ReadonlyArray<string>>([])
      const record = (event: string) => Ref.update(events, (all) => [...all, event])
      const inRegion = yield* Deferred.make<void>()
      const finishRegion = yield* Deferred.make<void>()
      const fiber = yield* Effect.gen(function*() {
        yield* Effect.uninterruptible(Effect.gen(function*() {
          yield* Deferred.succeed(inRegion, undefined)
          yield* Deferred.await(finishRegion)
          yield* record("region done")
        }))
        yield* record("after region")
      }).pipe(Effect.ensuring(record("finalizer")), Effect.fork)
      yield* Deferred.await(inRegion)
      // Send the interrupt now, without waiting for it to take effect (a plain interrupt would wait).
      yield* Effect.fiberIdWith((self) => Fiber.interruptAsFork(fiber, self))
      yield* record("interrupt requested")
      yield* Deferred.succeed(finishRegion, undefined)
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(yield* Ref.get(events)).toEqual(["interrupt requested", "region done", "finalizer"])
    })))
})
