// What stays dynamic once the API is composed statically: features' readiness checks (asked on
// every probe) and, until /ws is only a route, their upgrade handlers.
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import type { Upgrades } from "../../src/http/OwnedServer.js"
import * as ReadinessChecks from "../../src/http/public/ReadinessChecks.js"
import * as UpgradeHandlers from "../../src/http/public/UpgradeHandlers.js"

const recordingUpgrades = (takes: boolean, log: Array<string>, name: string): Upgrades => ({
  handle: () => {
    log.push(`${name} asked`)
    return takes
  },
  goAway: () => Effect.sync(() => void log.push(`${name} going away`))
})

describe("ReadinessChecks", () => {
  it.effect("ready while every check is; else the first check's reason, read at each probe", () =>
    Effect.gen(function*() {
      const checks = yield* ReadinessChecks.make
      expect(checks.unsafeNotReady()).toBeUndefined()
      let storeDown = false
      yield* checks.add({ name: "a", unsafeNotReady: () => undefined })
      yield* checks.add({ name: "b", unsafeNotReady: () => storeDown ? "the store is unreachable" : undefined })
      expect(checks.unsafeNotReady()).toBeUndefined()
      storeDown = true
      expect(checks.unsafeNotReady()).toBe("the store is unreachable")
    }))
})

describe("UpgradeHandlers", () => {
  it.effect("none added: no handler (the listener takes no upgrades)", () =>
    Effect.gen(function*() {
      const handlers = yield* UpgradeHandlers.make
      expect(yield* handlers.combined).toBeUndefined()
    }))

  it.effect("several act as one: the first to take a request serves it; all go away", () =>
    Effect.gen(function*() {
      const handlers = yield* UpgradeHandlers.make
      const log: Array<string> = []
      yield* handlers.add(recordingUpgrades(false, log, "a"))
      yield* handlers.add(recordingUpgrades(true, log, "b"))
      yield* handlers.add(recordingUpgrades(true, log, "c"))
      const upgrades = yield* handlers.combined
      expect(upgrades!.handle({} as never, {} as never, Buffer.alloc(0))).toBe(true)
      expect(log).toEqual(["a asked", "b asked"])
      yield* upgrades!.goAway(Duration.millis(10))
      expect(log.slice(2).sort()).toEqual(["a going away", "b going away", "c going away"])
    }))
})
