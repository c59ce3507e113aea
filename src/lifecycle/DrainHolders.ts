/**
 * What still holds the drain, by owner: each owner hands in a function that counts what it
 * holds (requests by route, sessions, running jobs), read only when someone asks
 * (GET /debug/shutdown). The core defines the book; whoever holds work contributes to it, so
 * the core never imports a feature and deleting one removes its contribution with it.
 * Owns: nothing but the list of contributions; it never stops or waits for what they count.
 * Does not own: the work counted (each contributor does).
 * Released when: never; a contribution leaves when its contributor removes it (or its scope closes).
 */
import { Effect, type Scope } from "effect"
import * as ScopeFinalizer from "./ScopeFinalizer.js"

/** Named counts, or named counts by key (requests by route template). */
export type Held = Readonly<Record<string, number | Readonly<Record<string, number>>>>

export interface DrainHolders {
  /** Adds a contribution; the function it returns removes it (idempotent). For callers without a
   * scope at hand (the request lifecycle registers lazily, from a request fiber). */
  readonly unsafeAdd: (owner: string, count: () => Held) => () => void
  /** Adds a contribution for as long as the caller's scope is open. */
  readonly add: (owner: string, count: () => Held) => Effect.Effect<void, never, Scope.Scope>
  /** Every contribution read now, merged by owner (two servers of one owner add up). */
  readonly snapshot: () => Record<string, Record<string, number | Record<string, number>>>
}

const merge = (into: Record<string, number | Record<string, number>>, held: Held) => {
  for (const [what, value] of Object.entries(held)) {
    const before = into[what]
    if (typeof value === "number") {
      into[what] = (typeof before === "number" ? before : 0) + value
      continue
    }
    const byKey: Record<string, number> = typeof before === "object" ? before : {}
    for (const [key, count] of Object.entries(value)) byKey[key] = (byKey[key] ?? 0) + count
    into[what] = byKey
  }
}

export const make = (): DrainHolders => {
  const contributions = new Set<{ readonly owner: string; readonly count: () => Held }>()
  const unsafeAdd = (owner: string, count: () => Held) => {
    const contribution = { owner, count }
    contributions.add(contribution)
    return () => void contributions.delete(contribution)
  }
  return {
    unsafeAdd,
    add: (owner, count) => ScopeFinalizer.acquireRelease(Effect.sync(() => unsafeAdd(owner, count)), (remove) => Effect.sync(remove)).pipe(Effect.asVoid),
    snapshot: () => {
      const byOwner: Record<string, Record<string, number | Record<string, number>>> = {}
      for (const { count, owner } of contributions) merge(byOwner[owner] ??= {}, count())
      return byOwner
    }
  }
}
