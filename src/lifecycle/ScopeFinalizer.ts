/**
 * Finalizers added to the scope itself (Scope.addFinalizerExit), for releases that need nothing
 * of the fiber that acquired them: they close over what they release, and they log with the
 * annotations and span of whoever closes the scope (at shutdown: the release phase).
 * Why not Effect.addFinalizer / Effect.acquireRelease: those run each finalizer with the fiber
 * refs of the fiber that acquired it, which costs two diffs and two patches of every fiber ref
 * (the whole context among them) per finalizer when the scope closes: about 0.1 ms of CPU and
 * 140 KB of garbage each at shutdown, where they were a sixth of the release's CPU (issue 21).
 * Like theirs, a release here runs uninterruptibly; an interruptible region inside it still
 * bounds its own waits (test/lifecycle/ScopeFinalizer.test.ts pins both).
 * Owns: nothing; the caller owns what it releases.
 * Released when: not applicable (each release runs once, when its scope closes).
 */
import { Effect, type Exit, Scope } from "effect"

/** Runs `release` when the current scope closes. */
export const add = (release: (exit: Exit.Exit<unknown, unknown>) => Effect.Effect<unknown>) =>
  Effect.flatMap(Effect.scope, (scope) => Scope.addFinalizerExit(scope, (exit) => Effect.uninterruptible(release(exit))))

/** Effect.acquireRelease's shape: `acquire` uninterruptibly, and `release` what it gave when the
 * current scope closes. */
export const acquireRelease = <A, E, R>(
  acquire: Effect.Effect<A, E, R>,
  release: (acquired: A, exit: Exit.Exit<unknown, unknown>) => Effect.Effect<unknown>
): Effect.Effect<A, E, R | Scope.Scope> =>
  Effect.uninterruptible(Effect.tap(acquire, (acquired) => add((exit) => release(acquired, exit))))
