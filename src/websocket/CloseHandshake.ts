// The end of a session on the wire: our close frame (unless the peer or ws closed first), a bounded
// wait for the peer's answer, then the socket is cut whatever happened. It reports the close code
// that actually went out, so the log line tells the truth.
import { Duration, Effect } from "effect"
import type { WebSocket } from "ws"
import type { Ending } from "./Session.js"

/** After our close frame, how long a peer gets to answer before the socket is cut. */
const CLOSE_WAIT = Duration.seconds(1)

/** A close reason must fit in a control frame (123 bytes); ours are short, this makes sure. */
export const closeReason = (reason: string) => Buffer.from(reason, "utf8").subarray(0, 123).toString("utf8").replace(/\uFFFD$/, "")

/**
 * Cleanup, exactly once: our close frame (unless the peer or ws closed first), then a bounded wait
 * for the peer's answer, then the socket is cut whatever happened. Gives the ending as it went
 * out on the wire.
 */
export const closeHandshake = (
  ws: WebSocket,
  first: Ending,
  seen: {
    readonly wsSent: () => number | undefined
    readonly peerSent: () => number | undefined
    readonly resumeReading: () => void
  }
) =>
  Effect.gen(function*() {
    // The session has quit (a sender waiting for room in its outbox is released: `send` races
    // `quit`); the socket reads again: the peer's close frame must be read for the handshake to end.
    seen.resumeReading()
    let sentByUs = false
    if (!first.byPeer && ws.readyState === ws.OPEN) {
      try {
        ws.close(first.code, closeReason(first.reason))
        sentByUs = true
      } catch {
        ws.terminate()
      }
    }
    if (ws.readyState !== ws.CLOSED) {
      yield* Effect.async<void>((resume) => {
        const closed = () => resume(Effect.void)
        ws.once("close", closed)
        return Effect.sync(() => ws.off("close", closed))
      }).pipe(Effect.timeoutOption(CLOSE_WAIT))
    }
    ws.terminate()
    if (first.byPeer || sentByUs) return first
    // Someone closed before our cleanup could: ws for a protocol error, or the peer.
    const wsSent = seen.wsSent()
    if (wsSent !== undefined) return { ...first, code: wsSent }
    const peerSent = seen.peerSent()
    return peerSent === undefined ? first : { code: peerSent, reason: `peer closed (we were ending: ${first.reason})`, byPeer: true }
  })
