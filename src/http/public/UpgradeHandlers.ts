/**
 * Transitional (issue 19): the upgrade handlers OwnedServer calls from its 'upgrade' listener,
 * until the draining server offers every upgrade to the router and /ws is only a route
 * (WebSocketFeature's route). A feature adds its handler when its layer is built; the public
 * listener reads them once, when it is built (after the features).
 * Owns: the list of handlers.
 * Does not own: the handlers' sessions (the feature that added them stops them in goAway).
 * Released when: nothing to release.
 */
import { Context, Effect, Layer } from "effect"
import type { Upgrades } from "../OwnedServer.js"

export class UpgradeHandlers extends Context.Tag("app/UpgradeHandlers")<UpgradeHandlers, {
  readonly add: (upgrades: Upgrades) => Effect.Effect<void>
  /** Every handler added as one; undefined when no feature takes upgrades. */
  readonly combined: Effect.Effect<Upgrades | undefined>
}>() {}

/** One Upgrades over several: the first handler to take a request serves it; all go away together. */
export const combine = (all: ReadonlyArray<Upgrades>): Upgrades | undefined =>
  all.length <= 1 ? all[0] : {
    handle: (request, socket, head) => all.some((upgrades) => upgrades.handle(request, socket, head)),
    goAway: (within) => Effect.forEach(all, (upgrades) => upgrades.goAway(within), { concurrency: "unbounded", discard: true })
  }

export const make = Effect.sync(() => {
  const handlers: Array<Upgrades> = []
  return UpgradeHandlers.of({
    add: (upgrades) => Effect.sync(() => void handlers.push(upgrades)),
    combined: Effect.sync(() => combine(handlers))
  })
})

export const layer = Layer.effect(UpgradeHandlers, make)
