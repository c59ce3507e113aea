// A condition fibers can wait for (Go's sync.Cond, for one predicate): `await` resumes once
// `holds()` is true; whoever changes the state it reads calls `check()`.
import { Effect } from "effect"

export interface Condition {
  /** Wakes every waiter if the predicate now holds. */
  readonly check: () => void
  /** Resumes at once if it holds, otherwise at the first `check()` that finds it true. */
  readonly await: Effect.Effect<void>
}

export const make = (holds: () => boolean): Condition => {
  const waiters = new Set<() => void>()
  return {
    check: () => {
      if (!holds()) return
      for (const wake of waiters) wake()
      waiters.clear()
    },
    await: Effect.async<void>((resume) => {
      if (holds()) return resume(Effect.void)
      const wake = () => resume(Effect.void)
      waiters.add(wake)
      return Effect.sync(() => waiters.delete(wake))
    })
  }
}
