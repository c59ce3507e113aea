// Go:
//   g, ctx := errgroup.WithContext(ctx)
//   g.Go(func() error { return fetch(ctx, "a") })
//   g.Go(func() error { return fetch(ctx, "b") })
//   err := g.Wait() // the first error; ctx is cancelled so the others stop early
// Effect: `Effect.all(tasks, { concurrency })` fails fast with the first error and interrupts the
// siblings still running (and waits for them) before it returns. To collect every outcome
// instead, use `{ mode: "either" }` or `Effect.validateAll`.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber, Ref, TestClock } from "effect"
import { leakCheck } from "../support/LeakCheck.js"

describe("errgroup -> Effect.all with concurrency", { timeout: 10_000 }, () => {
  it.effect("the first error is returned and the still-running siblings are interrupted", () =>
    leakCheck(Effect.gen(function*() {
      const events = yield* Ref.make<ReadonlyArray<string>>([])
      const record = (event: string) => Ref.update(events, (all) => [...all, event])
      const fetch = (name: string, seconds: number, fails: boolean) =>
        Effect.sleep(`${seconds} seconds`).pipe(
          Effect.zipRight(fails ? Effect.fail(`${name} failed`) : record(`${name} done`)),
          Effect.onInterrupt(() => record(`${name} interrupted`))
        )
      const group = Effect.all([fetch("a", 1, true), fetch("b", 10, false), fetch("c", 10, false)], { concurrency: "unbounded" })
      const wait = yield* Effect.fork(Effect.either(group))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(wait)).toEqual(Either.left("a failed"))
      expect([...(yield* Ref.get(events))].sort()).toEqual(["b interrupted", "c interrupted"])
      yield* TestClock.adjust("1 minute") // nothing left running to finish later
      expect(yield* Ref.get(events)).toHaveLength(2)
    })))

  it.effect("contrast: { mode: \"either\" } lets every task finish and returns each outcome", () =>
    leakCheck(Effect.gen(function*() {
      const fetch = (name: string, seconds: number, fails: boolean) =>
        Effect.sleep(`${seconds} seconds`).pipe(Effect.zipRight(fails ? Effect.fail(`${name} failed`) : Effect.succeed(name)))
      const group = Effect.all([fetch("a", 1, true), fetch("b", 10, false), fetch("c", 10, false)], {
        concurrency: "unbounded",
        mode: "either"
      })
      const wait = yield* Effect.fork(group)
      yield* TestClock.adjust("10 seconds")
      expect(yield* Fiber.join(wait)).toEqual([Either.left("a failed"), Either.right("b"), Either.right("c")])
    })))

  it.effect("contrast: Effect.validateAll runs everything and fails with all the errors", () =>
    Effect.gen(function*() {
      const result = yield* Effect.either(Effect.validateAll(
        ["a", "b", "c"],
        (name) => name === "b" ? Effect.succeed(name) : Effect.fail(`${name} failed`),
        { concurrency: "unbounded" }
      ))
      expect(result).toEqual(Either.left(["a failed", "c failed"]))
    }))
})
