// The hub's one heartbeat loop for all sessions, on TestClock: every member is pinged each round
// and checked the pong timeout later; a member that joined after the round's ping is not checked
// in that round; one whose ping throws is told (`failed`) and the others still get theirs.
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import * as Heartbeat from "../../src/websocket/Heartbeat.js"
import { captureLogs } from "../support/captureLogs.js"

const config = { wsPingIntervalMs: 1_000, wsPongTimeoutMs: 500 }

const member = (sessionId: string, throwOnPing = false) => {
  const seen = { pings: 0, checks: 0, failed: 0 }
  const beat: Heartbeat.Beat = {
    sessionId,
    ping: () => {
      seen.pings += 1
      if (throwOnPing) throw new Error(`planted throw in ${sessionId}'s ping`)
    },
    check: () => void (seen.checks += 1),
    failed: () => void (seen.failed += 1)
  }
  return { beat, seen }
}

/** Lets the loop run until it waits on the clock again. */
const settle = Effect.gen(function*() {
  for (let i = 0; i < 100; i++) yield* Effect.yieldNow()
})

describe("Heartbeat: one loop for every session (TestClock)", () => {
  it.scoped("pings each member at the interval, checks it the pong timeout later; a late joiner waits for the next round", () =>
    Effect.gen(function*() {
      const heartbeat = yield* Heartbeat.make(config)
      const a = member("a")
      heartbeat.add(a.beat)
      yield* settle
      yield* TestClock.adjust(1_000)
      yield* settle
      expect(a.seen).toEqual({ pings: 1, checks: 0, failed: 0 })
      const late = member("late")
      heartbeat.add(late.beat) // joins while the round waits for pongs
      yield* TestClock.adjust(500)
      yield* settle
      expect(a.seen).toEqual({ pings: 1, checks: 1, failed: 0 })
      expect(late.seen).toEqual({ pings: 0, checks: 0, failed: 0 })
      yield* TestClock.adjust(1_000)
      yield* settle
      expect(a.seen.pings).toBe(2)
      expect(late.seen.pings).toBe(1)
      heartbeat.remove(a.beat) // leaves during the round: not checked
      yield* TestClock.adjust(500)
      yield* settle
      expect(a.seen.checks).toBe(1)
      expect(late.seen.checks).toBe(1)
    }))

  it.scoped("a member whose ping throws is told, logged once at warn; the others are pinged all the same", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const heartbeat = yield* Heartbeat.make(config)
      const bad = member("bad", true)
      const good = member("good")
      heartbeat.add(bad.beat)
      heartbeat.add(good.beat)
      yield* settle
      yield* TestClock.adjust(1_000)
      yield* settle
      expect(bad.seen.failed).toBe(1)
      expect(good.seen).toEqual({ pings: 1, checks: 0, failed: 0 })
      const warns = logs.lines.filter((line) => line.level === "warn")
      expect(warns).toHaveLength(1)
      expect(warns[0]).toMatchObject({ sessionId: "bad" })
      expect(String(warns[0]!.cause)).toContain("planted throw in bad's ping")
    }).pipe(Effect.provide(logs.layer))
  })
})
