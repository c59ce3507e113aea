/**
 * Where features plug into the public server: each feature's layer adds its API group (with its
 * handlers), its upgrade handler or its readiness check here; the public server reads the list once, when it is built.
 * This is what makes a feature removable: the server names no feature, App.ts names each once.
 * Owns: the list of contributions, and the moment it is sealed (the public app's build).
 * Does not own: the services behind the handlers (the contributing feature's layer owns them), or
 *   the server (App.ts's PublicServerLive).
 * Released when: nothing to release; a contribution made after the seal is a wiring bug and dies.
 */
import type { HttpApiGroup } from "@effect/platform"
import { Context, Effect, Layer } from "effect"
import type { Upgrades } from "../OwnedServer.js"

/** A group's handlers, as HttpApiBuilder.group builds them for the "public" API. */
export type GroupHandlers<Name extends string, R> = Layer.Layer<HttpApiGroup.ApiGroup<"public", Name>, never, R>

export interface Contribution {
  readonly group: HttpApiGroup.HttpApiGroup.Any
  /** Its services already provided: it needs only what the public app's build gives (the router). */
  // `any`: one list holds every group, each under its own name.
  readonly handlers: GroupHandlers<any, never>
}

/** A feature's part of /readyz: synchronous (read on every probe), so it reports what the
 * feature's own monitor last saw; undefined when ready, else why not. */
export interface ReadinessCheck {
  readonly name: string
  readonly unsafeNotReady: () => string | undefined
}

export interface Contributions {
  readonly groups: ReadonlyArray<Contribution>
  readonly readiness: ReadonlyArray<ReadinessCheck>
  /** Every contributed upgrade handler as one; undefined when no feature takes upgrades. */
  readonly upgrades: Upgrades | undefined
}

export class PublicRoutes extends Context.Tag("app/PublicRoutes")<PublicRoutes, {
  /** Adds `group` to the public API, served by `handlers` with the caller's services. */
  readonly addGroup: <const Name extends string, R>(
    group: HttpApiGroup.HttpApiGroup.Any & { readonly identifier: Name },
    handlers: GroupHandlers<Name, R>
  ) => Effect.Effect<void, never, R>
  /** Adds a handler for upgrade requests (WebSocket); the first that takes a request serves it. */
  readonly addUpgrades: (upgrades: Upgrades) => Effect.Effect<void>
  /** Makes /readyz answer 503 while `check` says the feature cannot serve (its store is down). */
  readonly addReadiness: (check: ReadinessCheck) => Effect.Effect<void>
  /** What was contributed; from now on a contribution dies (it would never be served). */
  readonly seal: Effect.Effect<Contributions>
}>() {}

/** One Upgrades over several: the first handler to take a request serves it; all go away together. */
export const combineUpgrades = (all: ReadonlyArray<Upgrades>): Upgrades | undefined =>
  all.length <= 1 ? all[0] : {
    handle: (request, socket, head) => all.some((upgrades) => upgrades.handle(request, socket, head)),
    goAway: (within) => Effect.forEach(all, (upgrades) => upgrades.goAway(within), { concurrency: "unbounded", discard: true })
  }

export const make = Effect.sync(() => {
  const groups: Array<Contribution> = []
  const upgrades: Array<Upgrades> = []
  const readiness: Array<ReadinessCheck> = []
  let sealed = false
  const open = (what: string) =>
    Effect.suspend(() =>
      sealed
        ? Effect.dieMessage(`PublicRoutes: ${what} was added after the public server was built; ` +
          "provide the feature's layer below PublicServerLive in App.ts")
        : Effect.void
    )
  return PublicRoutes.of({
    addGroup: <const Name extends string, R>(
      group: HttpApiGroup.HttpApiGroup.Any & { readonly identifier: Name },
      handlers: GroupHandlers<Name, R>
    ) =>
      Effect.gen(function*() {
        yield* open(`group "${group.identifier}"`)
        if (groups.some((contribution) => contribution.group.identifier === group.identifier)) {
          return yield* Effect.dieMessage(`PublicRoutes: group "${group.identifier}" was added twice`)
        }
        const services = yield* Effect.context<R>()
        groups.push({ group, handlers: Layer.provide(handlers, Layer.succeedContext(services)) })
      }),
    addUpgrades: (handler) => Effect.zipRight(open("an upgrade handler"), Effect.sync(() => void upgrades.push(handler))),
    addReadiness: (check) => Effect.zipRight(open(`readiness check "${check.name}"`), Effect.sync(() => void readiness.push(check))),
    seal: Effect.sync(() => {
      sealed = true
      return { groups: [...groups], upgrades: combineUpgrades(upgrades), readiness: [...readiness] }
    })
  })
})

export const layer = Layer.effect(PublicRoutes, make)
