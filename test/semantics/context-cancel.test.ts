// Go:
//   ctx, cancel := context.WithTimeout(parent, time.Second)
//   defer cancel()
//   go worker(ctx)                           // must watch <-ctx.Done() itself
//   req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
// Effect: the context is the fiber. Interrupting a fiber interrupts the fibers it forked;
// `Effect.timeout` and `Effect.race` interrupt the losing work (its finalizers run); a promise-based
// Node call gets the fiber's AbortSignal from `Effect.tryPromise` and is aborted on interruption.
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Ref, TestClock } from "effect"
import { setTimeout as nodeSleep } from "node:timers/promises"
import { leakCheck } from "../support/LeakCheck.js"

describe("context cancellation -> fiber interruption", { timeout: 10_000 }, () => {
  it.effect("interrupting a parent interrupts the children it forked (and waits for them)", () =>
    leakCheck(Effect.gen(function*() {
      const events = yield* Ref.make<ReadonlyArray<string>>([])
      const childrenStarted = yield* Deferred.make<void>()
      const child = (name: string, started: Deferred.Deferred<void>) =>
        Deferred.succeed(started, undefined).pipe(
          Effect.zipRight(Effect.never),
          Effect.onInterrupt(() => Ref.update(events, (all) => [...all, `${name} interrupted`]))
        )
      const parent = yield* Effect.fork(Effect.gen(function*() {
        const a = yield* Deferred.make<void>()
        const b = yield* Deferred.make<void>()
        yield* Effect.fork(child("a", a))
        yield* Effect.fork(child("b", b))
        yield* Deferred.await(a).pipe(Effect.zipRight(Deferred.await(b)))
        yield* Deferred.succeed(childrenStarted, undefined)
        return yield* Effect.never
      }))
      yield* Deferred.await(childrenStarted)
      yield* Fiber.interrupt(parent)
      expect([...(yield* Ref.get(events))].sort()).toEqual(["a interrupted", "b interrupted"])
    })))

  it.effect("Effect.timeout interrupts the work it gives up on; the work's finalizer runs", () =>
    leakCheck(Effect.gen(function*() {
      const events = yield* Ref.make<ReadonlyArray<string>>([])
      const record = (event: string) => Ref.update(events, (all) => [...all, event])
      const work = Effect.sleep("10 seconds").pipe(Effect.zipRight(record("work done")), Effect.ensuring(record("work finalizer")))
      const fiber = yield* Effect.fork(Effect.either(Effect.timeout(work, "1 second")))
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      expect(result._tag === "Left" && result.left._tag).toBe("TimeoutException")
      expect(yield* Ref.get(events)).toEqual(["work finalizer"])
      yield* TestClock.adjust("1 minute") // the abandoned work never resumes
      expect(yield* Ref.get(events)).toEqual(["work finalizer"])
    })))

  it.effect("Effect.race returns the first to succeed and interrupts the loser", () =>
    leakCheck(Effect.gen(function*() {
      const events = yield* Ref.make<ReadonlyArray<string>>([])
      const fast = Effect.as(Effect.sleep("1 second"), "fast")
      const slow = Effect.as(Effect.sleep("5 seconds"), "slow").pipe(
        Effect.onInterrupt(() => Ref.update(events, (all) => [...all, "slow interrupted"]))
      )
      const fiber = yield* Effect.fork(Effect.race(slow, fast))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toBe("fast")
      expect(yield* Ref.get(events)).toEqual(["slow interrupted"])
    })))

  it.live("a promise-based call gets the fiber's AbortSignal; interrupting the fiber aborts the call", () =>
    leakCheck(Effect.gen(function*() {
      const events: Array<string> = []
      const started = yield* Deferred.make<{ readonly signal: AbortSignal; readonly call: Promise<void> }>()
      const fiber = yield* Effect.fork(Effect.tryPromise({
        // Declare the parameter: tryPromise makes an AbortController only when `try.length >= 1`.
        try: (signal) => {
          signal.addEventListener("abort", () => events.push("abort listener"))
          const call = nodeSleep(10_000, undefined, { signal }) // a real Node call that takes a signal
          Deferred.unsafeDone(started, Exit.succeed({ signal, call }))
          return call
        },
        catch: (cause) => cause
      }))
      const { call, signal } = yield* Deferred.await(started)
      expect(signal.aborted).toBe(false)
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(signal.aborted).toBe(true)
      expect(events).toEqual(["abort listener"])
      // The Node call itself stopped: its promise rejected with AbortError instead of waiting 10 s.
      const settled = yield* Effect.promise(() => call.then(() => "resolved", (error: Error) => error.name))
      expect(settled).toBe("AbortError")
    })))
})
