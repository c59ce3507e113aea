// Go:
//   func main() {
//     defer flush()  // skipped:
//     os.Exit(1)     // os.Exit ends the process without running deferred calls
//   }
// Effect: only src/main.ts may end the process (it provides the `ProcessExit` capability of
// src/lifecycle/ProcessExit.ts), and only after the root scope closed, or at the hard deadline
// with a log line saying finalizers were skipped. A finalizer cannot be cut short from inside by
// `Effect.timeout` (finalizers are uninterruptible), so the bounded wait must be interruptible.
// The process-level proof is in test/process/lifecycle.test.ts: "a finalizer that hangs past the
// budget -> exit 124 ..." and "SIGINT twice with a hanging finalizer -> ... 130".
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, Exit, Fiber, Option, Ref, Scope, TestClock } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { leakCheck } from "../support/LeakCheck.js"

describe("os.Exit -> only main.ts ends the process, finalizers are cut only at the deadline", { timeout: 10_000 }, () => {
  it.effect("Effect.timeout inside a finalizer does not bound it: the close is still running long after", () =>
    leakCheck(Effect.gen(function*() {
      const events = yield* Ref.make<ReadonlyArray<string>>([])
      // Stands in for `Effect.never`: a hang this test can end when it is done proving the point.
      const hung = yield* Deferred.make<void>()
      const scope = yield* Scope.make()
      // Effect.addFinalizer (like acquireRelease) runs its finalizer uninterruptibly, whoever closes
      // the scope; a raw Scope.addFinalizer would take the closing fiber's interruptibility instead.
      yield* Effect.addFinalizer(() =>
        Deferred.await(hung).pipe(
          Effect.timeout("1 second"),
          Effect.either,
          Effect.flatMap((result) =>
            Ref.update(events, (all) => [...all, `finalizer returned: ${Either.isLeft(result) ? result.left._tag : "done"}`])
          )
        )
      ).pipe(Scope.extend(scope))
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("1 minute")
      expect(Option.isNone(yield* Fiber.poll(closing))).toBe(true)
      expect(yield* Ref.get(events)).toEqual([])
      // Clean up: the timer did fire, but could only report the timeout once the work had ended.
      yield* Deferred.succeed(hung, undefined)
      yield* Fiber.join(closing)
      expect(yield* Ref.get(events)).toEqual(["finalizer returned: TimeoutException"])
    })))

  it.effect("the same work in an interruptible region is bounded by timeoutOption", () =>
    leakCheck(Effect.gen(function*() {
      const events = yield* Ref.make<ReadonlyArray<string>>([])
      const scope = yield* Scope.make()
      yield* Effect.addFinalizer(() =>
        Effect.interruptible(Effect.never).pipe(
          Effect.timeoutOption("1 second"),
          Effect.flatMap((result) => Ref.update(events, (all) => [...all, `finalizer returned: ${result._tag}`]))
        )
      ).pipe(Scope.extend(scope))
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(closing)
      expect(yield* Ref.get(events)).toEqual(["finalizer returned: None"])
    })))

  it.effect("at the hard deadline the waiter gives up on the close; what is still running is skipped", () =>
    leakCheck(Effect.gen(function*() {
      const events = yield* Ref.make<ReadonlyArray<string>>([])
      const hung = yield* Deferred.make<void>()
      const scope = yield* Scope.make()
      yield* Effect.addFinalizer(() =>
        Deferred.await(hung).pipe(Effect.zipRight(Ref.update(events, (all) => [...all, "flushed"])))
      ).pipe(Scope.extend(scope))
      // src/lifecycle/ShutdownRunner.ts: the close runs in its own fiber; waiting for it is interruptible.
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      const waited = yield* Fiber.await(closing).pipe(Effect.timeoutOption("10 seconds"), Effect.fork)
      yield* TestClock.adjust("10 seconds")
      expect(Option.isNone(yield* Fiber.join(waited))).toBe(true)
      // Here main.ts logs the fibers still running and calls ProcessExit.now(124): "flushed" never happens.
      expect(yield* Ref.get(events)).toEqual([])
      yield* Deferred.succeed(hung, undefined)
      yield* Fiber.join(closing)
    })))

  it("no module in src/ but src/main.ts calls process.exit (the os.Exit rule as code)", () => {
    const src = new URL("../../src/", import.meta.url)
    const callers = readdirSync(fileURLToPath(src), { recursive: true, encoding: "utf8" })
      .filter((file) => file.endsWith(".ts"))
      .filter((file) => /\bprocess\s*\.\s*exit\s*\(/.test(readFileSync(new URL(file, src), "utf8")))
    expect(callers).toEqual(["main.ts"])
  })
})
