// Go:
//   func handle() error {
//     f := open("a"); defer f.Close() // registered first, runs last
//     defer log("b")
//     return work() // return, panic or runtime.Goexit: the defers still run, last in first out
//   }
// Effect: every `defer` is a finalizer in a Scope (`Effect.acquireRelease`, `Effect.addFinalizer`)
// or around one effect (`Effect.ensuring`). They run in reverse order however the work ends, and
// a release receives the Exit, so it can tell a commit from a rollback.
import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Ref } from "effect"
import { leakCheck } from "../support/LeakCheck.js"

const describeExit = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return "success"
  if (Cause.isInterruptedOnly(exit.cause)) return "interrupted"
  return Cause.isFailType(exit.cause) ? `fail ${String(exit.cause.error)}` : `die ${String(Cause.squash(exit.cause))}`
}

/** The Go function above: open a, defer b, then run the body with one more defer around it. */
const handle = <E>(events: Ref.Ref<ReadonlyArray<string>>, body: Effect.Effect<void, E>) => {
  const record = (event: string) => Ref.update(events, (all) => [...all, event])
  return Effect.scoped(Effect.gen(function*() {
    yield* Effect.acquireRelease(record("open a"), (_, exit) => record(`close a: ${describeExit(exit)}`))
    yield* Effect.addFinalizer(() => record("deferred b"))
    yield* body.pipe(Effect.ensuring(record("ensuring c")))
  }))
}

describe("defer -> finalizers in a Scope", { timeout: 10_000 }, () => {
  it.effect("on success: LIFO, and the release sees a successful Exit", () =>
    Effect.gen(function*() {
      const events = yield* Ref.make<ReadonlyArray<string>>([])
      const exit = yield* Effect.exit(handle(events, Ref.update(events, (all) => [...all, "work"])))
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(yield* Ref.get(events)).toEqual(["open a", "work", "ensuring c", "deferred b", "close a: success"])
    }))

  it.effect("on a typed failure: the same order, the release sees the error, the error is kept", () =>
    Effect.gen(function*() {
      const events = yield* Ref.make<ReadonlyArray<string>>([])
      const exit = yield* Effect.exit(handle(events, Effect.fail("bad input")))
      expect(exit).toEqual(Exit.fail("bad input"))
      expect(yield* Ref.get(events)).toEqual(["open a", "ensuring c", "deferred b", "close a: fail bad input"])
    }))

  it.effect("on a defect (panic): the same order, the release sees the defect", () =>
    Effect.gen(function*() {
      const events = yield* Ref.make<ReadonlyArray<string>>([])
      const bug = new Error("nil map")
      const exit = yield* Effect.exit(handle(events, Effect.die(bug)))
      expect(exit).toEqual(Exit.die(bug))
      expect(yield* Ref.get(events)).toEqual(["open a", "ensuring c", "deferred b", "close a: die Error: nil map"])
    }))

  it.effect("on interruption (Goexit / cancel): the same order, the release sees the interruption", () =>
    leakCheck(Effect.gen(function*() {
      const events = yield* Ref.make<ReadonlyArray<string>>([])
      const started = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(handle(events, Deferred.succeed(started, undefined).pipe(Effect.zipRight(Effect.never))))
      yield* Deferred.await(started)
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(yield* Ref.get(events)).toEqual(["open a", "ensuring c", "deferred b", "close a: interrupted"])
    })))
})
