// How features plug into the public server: contributions are read once, and a late one is a loud bug.
import { HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Schema } from "effect"
import type { Upgrades } from "../../src/http/OwnedServer.js"
import { PublicApi } from "../../src/http/public/Api.js"
import * as PublicApp from "../../src/http/public/PublicApp.js"
import * as PublicRoutes from "../../src/http/public/PublicRoutes.js"
import { make as makeShutdown, Shutdown } from "../../src/lifecycle/Shutdown.js"

class Extra extends HttpApiGroup.make("extra").add(HttpApiEndpoint.get("one", "/one").addSuccess(Schema.String)) {}
const ExtraLive = HttpApiBuilder.group(PublicApi.add(Extra), "extra", (handlers) => handlers.handle("one", () => Effect.succeed("1")))

const dieMessage = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "succeeded"

const recordingUpgrades = (takes: boolean, log: Array<string>, name: string): Upgrades => ({
  handle: () => {
    log.push(`${name} asked`)
    return takes
  },
  goAway: () => Effect.sync(() => void log.push(`${name} going away`))
})

describe("PublicRoutes", () => {
  it.effect("the seal returns what was added; a group added after it dies naming the fix", () =>
    Effect.gen(function*() {
      const routes = yield* PublicRoutes.make
      yield* routes.addGroup(Extra, ExtraLive)
      const made = routes.addUpgrades(recordingUpgrades(true, [], "late"))
      const { groups, upgrades } = yield* routes.seal
      expect(groups.map(({ group }) => group.identifier)).toEqual(["extra"])
      expect(upgrades).toBeUndefined()
      const late = yield* Effect.exit(routes.addGroup(Extra, ExtraLive))
      expect(dieMessage(late)).toContain(`group "extra" was added after the public server was built`)
      const lateUpgrade = yield* Effect.exit(made) // made before the seal, run after it: still late
      expect(dieMessage(lateUpgrade)).toContain("an upgrade handler was added after the public server was built")
    }))

  it.effect("a feature's group named like a core group dies when the app is built", () =>
    Effect.gen(function*() {
      class Health extends HttpApiGroup.make("health").add(HttpApiEndpoint.get("other", "/other").addSuccess(Schema.String)) {}
      const HealthLive = HttpApiBuilder.group(PublicApi.add(Health), "health", (handlers) => handlers.handle("other", () => Effect.succeed("x")))
      const routes = yield* PublicRoutes.make
      yield* routes.addGroup(Health, HealthLive)
      const built = yield* Effect.exit(Effect.flatMap(routes.seal, ({ groups }) => PublicApp.make(groups)).pipe(
        Effect.provideService(Shutdown, yield* makeShutdown(1_000)),
        Effect.scoped
      ))
      expect(dieMessage(built)).toContain(`a feature's group is named "health", like a core group`)
    }))

  it.effect("the same group twice dies: two features cannot both serve it", () =>
    Effect.gen(function*() {
      const routes = yield* PublicRoutes.make
      yield* routes.addGroup(Extra, ExtraLive)
      expect(dieMessage(yield* Effect.exit(routes.addGroup(Extra, ExtraLive)))).toContain(`group "extra" was added twice`)
    }))

  it.effect("several upgrade handlers act as one: the first to take a request serves it; all go away", () =>
    Effect.gen(function*() {
      const routes = yield* PublicRoutes.make
      const log: Array<string> = []
      yield* routes.addUpgrades(recordingUpgrades(false, log, "a"))
      yield* routes.addUpgrades(recordingUpgrades(true, log, "b"))
      yield* routes.addUpgrades(recordingUpgrades(true, log, "c"))
      const { upgrades } = yield* routes.seal
      expect(upgrades!.handle({} as never, {} as never, Buffer.alloc(0))).toBe(true)
      expect(log).toEqual(["a asked", "b asked"])
      yield* upgrades!.goAway(Duration.millis(10))
      expect(log.slice(2).sort()).toEqual(["a going away", "b going away", "c going away"])
    }))
})
