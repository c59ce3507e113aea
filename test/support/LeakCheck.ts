// Go's goleak for Effect: fails a test when fibers it started are still alive after it.
//
// A Supervisor is installed around the test's effect, so the check sees exactly the fibers this
// test started, directly or through a runtime captured inside it (request fibers, FiberSet
// runtimes), and nothing another test file runs in parallel. The test's own scope is closed
// inside the check, so fibers its scope owns have been interrupted before the check looks.
import { Data, Effect, FiberId, type Fiber, type Scope, Supervisor } from "effect"

export interface LeakedFiber {
  readonly fiber: string
  /** The span the fiber was in when it was last seen running, if any. */
  readonly span: string | undefined
}

export class FiberLeak extends Data.TaggedError("FiberLeak")<{ readonly fibers: ReadonlyArray<LeakedFiber> }> {
  override get message() {
    return `${this.fibers.length} fiber(s) outlived the test: ${
      this.fibers.map((fiber) => `${fiber.fiber}${fiber.span === undefined ? "" : ` (span ${fiber.span})`}`).join(", ")
    }`
  }
}

const describeFiber = (fiber: Fiber.RuntimeFiber<unknown, unknown>): LeakedFiber => ({
  fiber: FiberId.threadName(fiber.id()),
  span: fiber.currentSpan?._tag === "Span" ? fiber.currentSpan.name : undefined
})

/** A real macrotask turn (not the test clock): lets fibers that are ending right now end. */
const settle = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

export const leakCheck = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | FiberLeak, Exclude<R, Scope.Scope>> =>
  Effect.gen(function*() {
    const supervisor = yield* Supervisor.track
    const exit = yield* Effect.exit(Effect.supervised(Effect.scoped(self), supervisor))
    let alive = yield* supervisor.value
    for (let turn = 0; turn < 20 && alive.length > 0; turn++) {
      yield* settle
      alive = yield* supervisor.value
    }
    if (alive.length > 0) {
      // Leave no zombie behind for the next test: report the leak, then end it.
      const leak = new FiberLeak({ fibers: alive.map(describeFiber) })
      for (const fiber of alive) fiber.unsafeInterruptAsFork(FiberId.none)
      return yield* leak
    }
    return yield* exit
  })
