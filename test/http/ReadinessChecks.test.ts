// What stays dynamic once the API is composed statically: features' readiness checks (asked on
// every probe) and who is told to go away when the public listener closes (GoingAway).
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import * as GoingAway from "../../src/http/public/GoingAway.js"
import * as ReadinessChecks from "../../src/http/public/ReadinessChecks.js"

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

describe("GoingAway", () => {
  it.effect("none added: no hook (the listener holds no upgraded sockets)", () =>
    Effect.gen(function*() {
      const goingAway = yield* GoingAway.make
      expect(yield* goingAway.combined).toBeUndefined()
    }))

  it.effect("several act as one: all are told to go away, each with the same bound", () =>
    Effect.gen(function*() {
      const goingAway = yield* GoingAway.make
      const log: Array<string> = []
      for (const name of ["a", "b", "c"]) {
        yield* goingAway.add((within) => Effect.sync(() => void log.push(`${name} going away within ${Duration.toMillis(within)}`)))
      }
      const combined = yield* goingAway.combined
      yield* combined!(Duration.millis(10))
      expect(log.sort()).toEqual(["a going away within 10", "b going away within 10", "c going away within 10"])
    }))
})
