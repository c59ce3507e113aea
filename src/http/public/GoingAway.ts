/**
 * Who holds upgraded sockets on the public listener (the WebSocket hub's sessions), to be told to
 * go away when the listener closes: the drain's "ws-going-away" phase runs them beside the HTTP
 * drain, each bounded by the `within` it is given. A feature adds its hook when its layer is built;
 * the public listener reads them once, when it is built (after the features). The upgrades
 * themselves reach their routes through the router (http/server/Upgrade.ts, GET /ws).
 * Owns: the list of hooks.
 * Does not own: the sessions (the feature that added a hook stops them in it).
 * Released when: nothing to release.
 */
import { Context, type Duration, Effect, Layer } from "effect"

export type GoAway = (within: Duration.Duration) => Effect.Effect<void>

export class GoingAway extends Context.Tag("app/GoingAway")<GoingAway, {
  readonly add: (goAway: GoAway) => Effect.Effect<void>
  /** Every hook added, run together; undefined when no feature holds upgraded sockets. */
  readonly combined: Effect.Effect<GoAway | undefined>
}>() {}

export const make = Effect.sync(() => {
  const hooks: Array<GoAway> = []
  return GoingAway.of({
    add: (goAway) => Effect.sync(() => void hooks.push(goAway)),
    combined: Effect.sync(() =>
      hooks.length === 0
        ? undefined
        : (within) => Effect.forEach(hooks, (goAway) => goAway(within), { concurrency: "unbounded", discard: true })
    )
  })
})

export const layer = Layer.effect(GoingAway, make)
