// Go:
//   defer func() {
//     if r := recover(); r != nil { log.Printf("recovered: %v\n%s", r, debug.Stack()) }
//   }()
//   var m map[string]int; m["x"] = 1 // panic: a bug, not an error value
// Effect: a bug is a defect (`Effect.die`), kept apart from typed failures. Only the defect
// handlers (`catchAllDefect`, `catchAllCause`, `sandbox`) see it, and they get the original
// value, so logging the recovered cause still shows the real error and its stack.
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option, Ref } from "effect"

describe("panic / recover -> defects vs typed failures", () => {
  it.effect("Effect.die is not a typed failure: catchAll never runs for it", () =>
    Effect.gen(function*() {
      const handled = yield* Ref.make(false)
      const bug = new Error("nil map")
      const exit = yield* Effect.die(bug).pipe(
        Effect.catchAll(() => Ref.set(handled, true)),
        Effect.exit
      )
      expect(yield* Ref.get(handled)).toBe(false)
      expect(exit).toEqual(Exit.die(bug))
    }))

  it.effect("catchAll stays out even when a typed failure comes with a defect: the failure is turned into a defect too", () =>
    Effect.gen(function*() {
      const handled = yield* Ref.make(false)
      const bug = new Error("finalizer bug")
      const exit = yield* Effect.fail("not found").pipe(
        Effect.ensuring(Effect.die(bug)),
        Effect.catchAll(() => Ref.set(handled, true)),
        Effect.exit
      )
      expect(yield* Ref.get(handled)).toBe(false)
      const cause = Exit.isFailure(exit) ? exit.cause : Cause.empty
      expect([...Cause.defects(cause)]).toEqual(["not found", bug])
    }))

  it.effect("recover: catchAllDefect gets the original Error object, and its pretty cause keeps message and stack", () =>
    Effect.gen(function*() {
      const bug = new Error("nil map")
      const recovered = yield* Effect.die(bug).pipe(Effect.catchAllDefect((defect) => Effect.succeed(defect)))
      expect(recovered).toBe(bug)
      // What a recovering handler logs: the cause, not a replacement message.
      const logged = yield* Effect.die(bug).pipe(
        Effect.catchAllCause((cause) => Effect.succeed({ pretty: Cause.pretty(cause), squashed: Cause.squash(cause) }))
      )
      expect(logged.squashed).toBe(bug)
      expect(logged.pretty).toContain("Error: nil map")
      expect(logged.pretty).toContain("panic-recover.test.ts") // the stack of the original error
    }))

  it.effect("Effect.sandbox exposes the full cause: the typed failure and the defect behind it", () =>
    Effect.gen(function*() {
      const bug = new Error("finalizer bug")
      const cause = yield* Effect.fail("not found").pipe(
        Effect.ensuring(Effect.die(bug)),
        Effect.sandbox,
        Effect.flip
      )
      expect(Option.getOrUndefined(Cause.failureOption(cause))).toBe("not found")
      expect([...Cause.defects(cause)]).toEqual([bug])
    }))
})
