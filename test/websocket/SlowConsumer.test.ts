// Slow means the peer reads nothing: the unsent byte count stays above the high-water mark with
// no drop for the whole stall window. A peer that drains, however slowly, is never cut off.
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Option, TestClock } from "effect"
import { awaitRoom, HIGH_WATER_BYTES, STALL_WINDOW } from "../../src/websocket/SlowConsumer.js"

const OPEN = 1
const stallMs = Duration.toMillis(STALL_WINDOW)

describe("SlowConsumer.awaitRoom", () => {
  it.effect("below the high-water mark it is writable at once", () =>
    Effect.gen(function*() {
      expect(yield* awaitRoom({ bufferedAmount: HIGH_WATER_BYTES, readyState: OPEN })).toBe("writable")
    }))

  it.effect("a peer that reads nothing is stalled after exactly the stall window, not before", () =>
    Effect.gen(function*() {
      const waiting = yield* Effect.fork(awaitRoom({ bufferedAmount: HIGH_WATER_BYTES + 1, readyState: OPEN }))
      yield* TestClock.adjust(stallMs - 20)
      expect(yield* Fiber.poll(waiting)).toEqual(Option.none())
      yield* TestClock.adjust(20)
      expect(yield* Fiber.join(waiting)).toBe("stalled")
    }))

  it.effect("a peer that drains slowly is never stalled, and is writable once below the mark", () =>
    Effect.gen(function*() {
      const socket = { bufferedAmount: HIGH_WATER_BYTES * 2, readyState: OPEN }
      const waiting = yield* Effect.fork(awaitRoom(socket))
      for (let round = 0; round < 3; round++) { // three windows, each with a little progress
        yield* TestClock.adjust(stallMs - 10)
        socket.bufferedAmount -= 1_000 // a few bytes read each time, just inside the window
        yield* TestClock.adjust(10)
        expect(yield* Fiber.poll(waiting)).toEqual(Option.none())
      }
      socket.bufferedAmount = HIGH_WATER_BYTES
      yield* TestClock.adjust(10)
      expect(yield* Fiber.join(waiting)).toBe("writable")
    }))

  it.effect("a socket that closes while we wait ends the wait as closed, never as stalled", () =>
    Effect.gen(function*() {
      const socket = { bufferedAmount: HIGH_WATER_BYTES * 2, readyState: OPEN }
      const waiting = yield* Effect.fork(awaitRoom(socket))
      yield* TestClock.adjust(stallMs / 2)
      socket.readyState = 3
      yield* TestClock.adjust(stallMs)
      expect(yield* Fiber.join(waiting)).toBe("closed")
    }))
})
