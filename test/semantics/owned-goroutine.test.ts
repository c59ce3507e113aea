// Go:
//   ctx, cancel := context.WithCancel(parent)
//   defer cancel()                  // the owner stops what it started...
//   go heartbeat(ctx)               // ...as long as every goroutine watches ctx
//   go func() { for { poll() } }() // leak: nobody can stop this one
// Effect: fork into a Scope the caller owns (`Effect.forkScoped`, a scoped `FiberSet`): closing the
// scope interrupts the fibers, with no cooperation needed from them. `Effect.forkDaemon` is the
// leak: it outlives every scope, so only main.ts (or one commented place) may use it.
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, FiberSet, Option, Queue, Ref } from "effect"
import { leakCheck } from "../support/LeakCheck.js"

describe("goroutine owned by its caller -> fibers forked into a Scope", { timeout: 10_000 }, () => {
  it.effect("Effect.forkScoped fibers are interrupted when their scope closes", () =>
    leakCheck(Effect.gen(function*() {
      const events = yield* Ref.make<ReadonlyArray<string>>([])
      const record = (event: string) => Ref.update(events, (all) => [...all, event])
      yield* Effect.scoped(Effect.gen(function*() {
        const started = yield* Deferred.make<void>()
        yield* Effect.forkScoped(
          Deferred.succeed(started, undefined).pipe(Effect.zipRight(Effect.never), Effect.onInterrupt(() => record("heartbeat interrupted")))
        )
        yield* Deferred.await(started)
        yield* record("scope closing")
      }))
      yield* record("scope closed")
      expect(yield* Ref.get(events)).toEqual(["scope closing", "heartbeat interrupted", "scope closed"])
    })))

  it.effect("a FiberSet owned by a scope interrupts all its fibers when the scope closes", () =>
    leakCheck(Effect.gen(function*() {
      const events = yield* Ref.make<ReadonlyArray<string>>([])
      const set = yield* Effect.scoped(Effect.gen(function*() {
        const set = yield* FiberSet.make()
        for (const name of ["a", "b"]) {
          const started = yield* Deferred.make<void>()
          yield* FiberSet.run(set, Deferred.succeed(started, undefined).pipe(
            Effect.zipRight(Effect.never),
            Effect.onInterrupt(() => Ref.update(events, (all) => [...all, `${name} interrupted`]))
          ))
          yield* Deferred.await(started)
        }
        expect(yield* FiberSet.size(set)).toBe(2)
        return set
      }))
      expect([...(yield* Ref.get(events))].sort()).toEqual(["a interrupted", "b interrupted"])
      expect(yield* FiberSet.size(set)).toBe(0)
    })))

  it.effect("contrast: Effect.forkDaemon outlives the scope it was started in; it must be stopped by hand", () =>
    leakCheck(Effect.gen(function*() {
      const events = yield* Ref.make<ReadonlyArray<string>>([])
      const pings = yield* Queue.unbounded<Deferred.Deferred<string>>()
      const daemon = yield* Effect.scoped(Effect.gen(function*() {
        // Answers every ping: proof of life after the scope is gone.
        return yield* Queue.take(pings).pipe(
          Effect.flatMap((reply) => Deferred.succeed(reply, "pong")),
          Effect.forever,
          Effect.onInterrupt(() => Ref.update(events, (all) => [...all, "daemon interrupted"])),
          Effect.forkDaemon
        )
      }))
      const reply = yield* Deferred.make<string>()
      yield* Queue.offer(pings, reply)
      expect(yield* Deferred.await(reply)).toBe("pong") // still running after its scope closed
      expect(yield* Ref.get(events)).toEqual([])
      expect(Option.isNone(yield* Fiber.poll(daemon))).toBe(true)
      yield* Fiber.interrupt(daemon) // without this, the leak check fails the test
      expect(yield* Ref.get(events)).toEqual(["daemon interrupted"])
    })))
})
