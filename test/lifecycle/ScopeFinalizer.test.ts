// ScopeFinalizer keeps what Effect.addFinalizer / Effect.acquireRelease promise the releases that
// moved to it (DrainingServer, WorkerPool, JobStore, JobDatabase, listenScoped, ProcessFaults,
// DrainHolders): each runs once when its scope closes, in reverse order, with the scope's exit;
// it cannot be cut short by interrupting whoever closes the scope; and an interruptible region
// inside it still bounds its own wait (the pool's drain deadline relies on that).
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option, Ref, Scope } from "effect"
import * as ScopeFinalizer from "../../src/lifecycle/ScopeFinalizer.js"
import { leakCheck } from "../support/LeakCheck.js"

describe("ScopeFinalizer", () => {
  it.effect("releases once when the scope closes, last added first, with the scope's exit", () =>
    leakCheck(Effect.gen(function*() {
      const events = yield* Ref.make<ReadonlyArray<string>>([])
      const record = (event: string) => Ref.update(events, (all) => [...all, event])
      const scope = yield* Scope.make()
      const acquired = yield* ScopeFinalizer.acquireRelease(
        Effect.as(record("acquire"), "resource"),
        (resource, exit) => record(`release ${resource} ${Exit.isSuccess(exit) ? "success" : "failure"}`)
      ).pipe(Scope.extend(scope))
      yield* ScopeFinalizer.add((exit) => record(`add ${Exit.isSuccess(exit) ? "success" : "failure"}`)).pipe(Scope.extend(scope))
      expect(acquired).toBe("resource")
      yield* Scope.close(scope, Exit.fail("boom"))
      yield* Scope.close(scope, Exit.void)
      expect(yield* Ref.get(events)).toEqual(["acquire", "add failure", "release resource failure"])
    })))

  it.live("interrupting the fiber that closes the scope does not cut a release short", () =>
    leakCheck(Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const proceed = yield* Deferred.make<void>()
      const finished = yield* Ref.make(false)
      const scope = yield* Scope.make()
      yield* ScopeFinalizer.add(() =>
        Deferred.succeed(started, undefined).pipe(
          Effect.zipRight(Deferred.await(proceed)),
          Effect.zipRight(Ref.set(finished, true))
        )
      ).pipe(Scope.extend(scope))
      const closer = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* Deferred.await(started)
      yield* Fiber.interruptFork(closer)
      yield* Deferred.succeed(proceed, undefined)
      yield* Fiber.await(closer)
      expect(yield* Ref.get(finished)).toBe(true)
    })))

  it.live("an interruptible region inside a release still bounds its wait", () =>
    leakCheck(Effect.gen(function*() {
      const waited = yield* Deferred.make<Option.Option<never>>()
      const scope = yield* Scope.make()
      yield* ScopeFinalizer.add(() =>
        Effect.flatMap(Effect.timeoutOption(Effect.interruptible(Effect.never), "20 millis"), (outcome) => Deferred.succeed(waited, outcome))
      ).pipe(Scope.extend(scope))
      yield* Scope.close(scope, Exit.void).pipe(Effect.timeout("5 seconds"))
      expect(Option.isNone(yield* Deferred.await(waited))).toBe(true)
    })), { timeout: 10_000 })
})
