// GET /debug/shutdown: the shutdown as it happens. Which phase runs, why it started, how much of
// the budget is left, and what still holds the drain, by owner:
// - what owners contribute to the Shutdown's book (DrainHolders): each HTTP server its requests
//   in flight by route template; any feature its own counts;
// - what the FiberRegistry lists: an owned fiber named `<kind>/<id>` (`ws.session/<uuid>`,
//   `jobs.worker/3`) counts as one `<kind>` of its owner, so WebSocket sessions and job workers
//   show up without the core naming any feature (a deleted feature simply has no fibers);
// - every owned fiber, with its name, owner and age.
import { Effect, Option } from "effect"
import type { FiberRegistry, OwnedFiber } from "./FiberRegistry.js"
import type { Shutdown } from "./Shutdown.js"
import { label } from "./ShutdownReason.js"

export interface ShutdownView {
  /** "serving" before shutdown; then the latest phase still running (the last one started
   * between phases; "triggered" before the first). */
  readonly phase: string
  readonly runningPhases: ReadonlyArray<string>
  readonly reason: string | null
  readonly elapsedMs: number
  readonly budgetMs: number
  readonly budgetLeftMs: number
  readonly holding: Record<string, Record<string, number | Record<string, number>>>
  readonly fibers: ReadonlyArray<Pick<OwnedFiber, "name" | "owner" | "ageMs">>
}

/** `ws.session/<id>` is one `ws.session`; `ws.session/<id>/reader` (a part of it) and request
 * fibers (`GET /path`, counted by route in the book) are not counted again. */
const kindOf = (name: string): string | undefined => {
  const parts = name.split("/")
  return parts.length === 2 && parts[0] !== "" && parts[1] !== "" && !name.includes(" ") ? parts[0] : undefined
}

const countKinds = (
  holding: Record<string, Record<string, number | Record<string, number>>>,
  fibers: ReadonlyArray<OwnedFiber>
) => {
  for (const fiber of fibers) {
    const kind = kindOf(fiber.name)
    if (kind === undefined) continue
    const owner = holding[fiber.owner] ??= {}
    const before = owner[kind]
    owner[kind] = (typeof before === "number" ? before : 0) + 1
  }
  return holding
}

export const snapshot = Effect.fn("DrainView.snapshot")(
  function*(shutdown: Shutdown["Type"], registry: FiberRegistry["Type"]) {
    const reason = yield* shutdown.reason
    const fibers = yield* registry.snapshot
    const running = yield* shutdown.runningPhases
    const last = yield* shutdown.lastPhase
    const phase = Option.isNone(reason) ? "serving" : running.at(-1) ?? Option.getOrElse(last, () => "triggered")
    // One clock read for both, so they add up to the budget (the same rule as shutdown.remaining).
    const elapsedMs = yield* shutdown.elapsed
    const view: ShutdownView = {
      phase,
      runningPhases: running,
      reason: Option.match(reason, { onNone: () => null, onSome: label }),
      elapsedMs,
      budgetMs: shutdown.budgetMs,
      budgetLeftMs: Math.max(0, shutdown.budgetMs - elapsedMs),
      holding: countKinds(shutdown.holders.snapshot(), fibers),
      fibers: fibers.map(({ ageMs, name, owner }) => ({ name, owner, ageMs }))
    }
    return view
  }
)
