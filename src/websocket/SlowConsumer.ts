// What makes a WebSocket peer a slow consumer: it does not read what we send. A burst is not that.
//
// The writer hands ws a frame only while less than HIGH_WATER_BYTES is still unsent. Above it, it
// waits for the peer to read; any drop of the unsent byte count is progress and restarts the
// wait, so a slow but reading peer is never cut off, and a fast peer taking a burst drains it. A
// peer that reads nothing for STALL_WINDOW while we have more than HIGH_WATER_BYTES for it is cut
// off (1008). Five seconds outlasts a TCP retransmission back-off on a lossy link, and is short
// enough that one deaf peer holds its senders (who wait for room in its outbox) only briefly.
import { Clock, Duration, Effect } from "effect"

/** Unsent bytes above which the writer stops handing frames to ws. */
export const HIGH_WATER_BYTES = 1024 * 1024
/** How long a peer may read nothing at all while above HIGH_WATER_BYTES. */
export const STALL_WINDOW = Duration.seconds(5)
/** How often a waiting writer looks at the unsent byte count: often while the peer reads, backing
 * off to the slowest while it does not (a deaf peer costs a wake-up per 100 ms, not per 10). */
const POLL_FASTEST_MS = 10
const POLL_SLOWEST_MS = 100

/** The part of a ws WebSocket this looks at. */
export interface Outgoing {
  readonly bufferedAmount: number
  readonly readyState: number
}

const OPEN = 1

export type Room = "writable" | "stalled" | "closed"

/**
 * Waits until the peer has room for more: "writable" once at most `highWater` bytes are unsent,
 * "stalled" when none left for `stallWindow`, "closed" once the socket is no longer open (nothing
 * more will reach the peer; whoever closed it decides how the session ends).
 */
export const awaitRoom = (
  socket: Outgoing,
  highWater = HIGH_WATER_BYTES,
  stallWindow: Duration.DurationInput = STALL_WINDOW
): Effect.Effect<Room> =>
  Effect.gen(function*() {
    const check = (): Room | undefined =>
      socket.readyState !== OPEN ? "closed" : socket.bufferedAmount <= highWater ? "writable" : undefined
    const now = check()
    if (now !== undefined) return now
    const stallMs = Duration.toMillis(stallWindow)
    let lowest = socket.bufferedAmount
    let progressAt = yield* Clock.currentTimeMillis
    let poll = POLL_FASTEST_MS
    while (true) {
      const now = yield* Clock.currentTimeMillis
      yield* Effect.sleep(Math.max(1, Math.min(poll, progressAt + stallMs - now)))
      const room = check()
      if (room !== undefined) return room
      const at = yield* Clock.currentTimeMillis
      if (socket.bufferedAmount < lowest) {
        lowest = socket.bufferedAmount
        progressAt = at
        poll = POLL_FASTEST_MS
      } else if (at - progressAt >= stallMs) return "stalled"
      else poll = Math.min(poll * 2, POLL_SLOWEST_MS)
    }
  })
