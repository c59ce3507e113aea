/**
 * Closes the root scope within the shutdown budget.
 * Owns: the fiber that runs the root scope's finalizers.
 * Does not own: the finalizers (each layer owns its own release).
 * Released when: the scope is closed, or the hard deadline passes; then main.ts exits the process
 *   under any finalizer still running, which is logged by name.
 *
 * Finalizers run uninterruptibly, so a timeout around `Scope.close` would wait for a hung one
 * forever. Instead the close runs in its own fiber, and this waits for that fiber only until
 * the budget (plus a short grace for work cut at the soft deadline to answer and release) is
 * spent.
 */
import { Duration, Effect, Exit, Fiber, Option, Scope } from "effect"
import { FiberRegistry } from "./FiberRegistry.js"
import { ExitCode } from "./ProcessExit.js"
import { Shutdown } from "./Shutdown.js"

/** After the soft deadline (SHUTDOWN_TIMEOUT_MS), components interrupt what is left; this is the
 * time they get to write their 503s and release before the process is forced out. */
export const FORCE_GRACE_MS = 500

export type Outcome =
  | { readonly _tag: "Closed"; readonly exit: Exit.Exit<void> }
  | { readonly _tag: "DeadlineExceeded" }

export const closeWithinBudget = Effect.fn("ShutdownRunner.closeWithinBudget")(
  function*(scope: Scope.CloseableScope) {
    const shutdown = yield* Shutdown
    const registry = yield* FiberRegistry
    // This daemon must outlive the bounded wait below. If the deadline passes while a finalizer
    // hangs, main.ts ends the process under it; nothing else may interrupt it.
    const closing = yield* Effect.forkDaemon( // owner: the process (see above)
      shutdown.phase("release")(Scope.close(scope, Exit.void)).pipe(registry.track("root scope release", "main"))
    )
    const remaining = yield* shutdown.remaining
    const limit = Duration.sum(remaining, Duration.millis(FORCE_GRACE_MS))
    const closed = yield* Fiber.await(closing).pipe(Effect.timeoutOption(limit))
    if (Option.isSome(closed)) return { _tag: "Closed", exit: Exit.asVoid(closed.value) } satisfies Outcome
    const running = yield* registry.snapshot
    yield* Effect.logError("shutdown deadline exceeded: forcing exit").pipe(
      Effect.annotateLogs({ running, finalizersSkipped: true, budgetMs: shutdown.budgetMs })
    )
    return { _tag: "DeadlineExceeded" } satisfies Outcome
  }
)

/** True when the deadline had to cut anything: the release itself, or work recorded as forced. */
export const cutAtDeadline = (outcome: Outcome, forced: ReadonlyArray<string>): boolean =>
  outcome._tag === "DeadlineExceeded" || forced.length > 0

/**
 * 1 for a fatal reason, whatever the drain did (the fault is the news; the final log line says
 * whether the deadline cut work too); else 124 when the deadline cut anything; else 1 for a
 * failing finalizer; else 0.
 */
export const exitCodeOf = (outcome: Outcome, fatal: boolean, forced: ReadonlyArray<string>): number => {
  if (fatal) return ExitCode.Failure
  if (cutAtDeadline(outcome, forced)) return ExitCode.DeadlineExceeded
  if (outcome._tag === "Closed" && Exit.isFailure(outcome.exit)) return ExitCode.Failure
  return ExitCode.Ok
}
