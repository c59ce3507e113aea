/**
 * The heartbeat of many sessions as one loop: every WS_PING_INTERVAL_MS each member is pinged,
 * WS_PONG_TIMEOUT_MS later each member pinged in that round is asked whether its pong came.
 * One fiber and one timer for all sessions instead of a fiber and a timer each: an idle session
 * costs nothing here but its place in a Set (issue 21: a WebSocket in 25 KB).
 * Owns: its loop fiber (forked in the caller's scope) and the set of members.
 * Does not own: the members; each session decides what a missing pong means and ends itself.
 * Released when: the caller's scope closes (the hub's, or a session's own when it runs alone).
 */
import { Cause, Effect } from "effect"

/** What the heartbeat asks of a session. Both run synchronously and may throw (a bug there costs
 * that session only: `failed` is told). */
export interface Beat {
  readonly sessionId: string
  /** Pings the peer and starts a round. */
  readonly ping: () => void
  /** The round's pong timeout has passed: ends the session if no pong came. */
  readonly check: () => void
  /** `ping` or `check` threw. */
  readonly failed: (defect: unknown) => void
}

export interface Heartbeat {
  readonly add: (beat: Beat) => void
  readonly remove: (beat: Beat) => void
}

const each = (round: ReadonlyArray<Beat>, members: Set<Beat>, step: "ping" | "check") =>
  Effect.sync(() => {
    const throws: Array<[Beat, unknown]> = []
    for (const beat of round) {
      if (!members.has(beat)) continue // left during the round
      try {
        beat[step]()
      } catch (defect) {
        throws.push([beat, defect])
      }
    }
    return throws
  }).pipe(Effect.flatMap((throws) =>
    Effect.forEach(throws, ([beat, defect]) =>
      Effect.zipRight(
        Effect.logWarning("ws session heartbeat threw; failing only this session", Cause.die(defect)).pipe(
          Effect.annotateLogs({ sessionId: beat.sessionId })
        ),
        Effect.sync(() => beat.failed(defect))
      ), { discard: true })
  ))

/** Starts the loop in the caller's scope; a member's first ping comes at the first round's end. */
export const make = (config: { readonly wsPingIntervalMs: number; readonly wsPongTimeoutMs: number }) =>
  Effect.gen(function*() {
    const members = new Set<Beat>()
    const loop = Effect.gen(function*() {
      while (true) {
        yield* Effect.sleep(config.wsPingIntervalMs)
        if (members.size === 0) continue
        const round = Array.from(members)
        yield* each(round, members, "ping")
        yield* Effect.sleep(config.wsPongTimeoutMs)
        yield* each(round, members, "check")
      }
    })
    yield* Effect.forkScoped(loop) // owner: the caller's scope (the hub's, or a lone session's)
    return {
      add: (beat) => void members.add(beat),
      remove: (beat) => void members.delete(beat)
    } satisfies Heartbeat
  })
