// Go:
//   var wg sync.WaitGroup
//   for _, job := range jobs {
//     wg.Add(1)
//     go func() { defer wg.Done(); run(job) }()
//   }
//   wg.Wait()
// Effect: fork the fibers into a `FiberSet` and wait with `FiberSet.awaitEmpty`, or keep the
// fibers and `Fiber.joinAll` them. (`FiberSet.join` is not Wait: it returns only when a fiber
// in the set fails, with that failure; it never returns when they all succeed.)
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, FiberSet, Option, Ref, TestClock } from "effect"
import { leakCheck } from "../support/LeakCheck.js"

describe("sync.WaitGroup -> FiberSet.awaitEmpty / Fiber.joinAll", { timeout: 10_000 }, () => {
  it.effect("FiberSet.awaitEmpty returns once every fiber in the set has finished", () =>
    leakCheck(Effect.gen(function*() {
      const done = yield* Ref.make<ReadonlyArray<number>>([])
      const set = yield* FiberSet.make()
      for (const seconds of [3, 1, 2]) {
        yield* FiberSet.run(set, Effect.sleep(`${seconds} seconds`).pipe(Effect.zipRight(Ref.update(done, (all) => [...all, seconds]))))
      }
      const wait = yield* Effect.fork(FiberSet.awaitEmpty(set))
      yield* TestClock.adjust("2 seconds")
      expect(Option.isNone(yield* Fiber.poll(wait))).toBe(true) // the 3 s job is still running
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(wait)
      expect(yield* Ref.get(done)).toEqual([1, 2, 3])
      expect(yield* FiberSet.size(set)).toBe(0)
    })))

  it.effect("Fiber.joinAll waits for every fiber and returns their results in fork order", () =>
    leakCheck(Effect.gen(function*() {
      const fibers = yield* Effect.forEach([3, 1, 2], (seconds) => Effect.fork(Effect.as(Effect.sleep(`${seconds} seconds`), seconds)))
      const wait = yield* Effect.fork(Fiber.joinAll(fibers))
      yield* TestClock.adjust("2 seconds")
      expect(Option.isNone(yield* Fiber.poll(wait))).toBe(true)
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(wait)).toEqual([3, 1, 2])
    })))

  it.effect("FiberSet.join is for failures: it fails with the first error of a fiber in the set", () =>
    leakCheck(Effect.gen(function*() {
      const set = yield* FiberSet.make<void, string>()
      yield* FiberSet.run(set, Effect.sleep("1 second"))
      yield* FiberSet.run(set, Effect.sleep("2 seconds").pipe(Effect.zipRight(Effect.fail("job 2 failed"))))
      const joined = yield* Effect.fork(Effect.flip(FiberSet.join(set)))
      yield* TestClock.adjust("2 seconds")
      expect(yield* Fiber.join(joined)).toBe("job 2 failed")
    })))
})
