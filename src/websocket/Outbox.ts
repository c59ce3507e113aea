/**
 * A session's outbox: frames for its peer, in order, bounded (WS_SEND_QUEUE).
 * A frame with nothing waiting before it goes straight to ws while the peer has room (what the
 * writer would do at once anyway); otherwise it waits in a Queue made on the first such frame,
 * drained by a writer fiber forked while the Queue holds something. An idle session has neither.
 * Owns: its Queue (when made) and the writer fiber while it runs.
 * Does not own: the socket, nor the session's end: a peer that reads nothing is reported to the
 *   session (`end`, 1008) and the session closes.
 * Released when: the session ends: `ended()` turns true (offers are dropped) and the session
 *   interrupts `writer` with its other workers.
 */
import { Deferred, Effect, type Fiber, Option, Queue } from "effect"
import type { WebSocket } from "ws"
import { CloseCode } from "./CloseCode.js"
import type { Ending } from "./Session.js"
import { awaitRoom, HIGH_WATER_BYTES } from "./SlowConsumer.js"
import * as WsMetrics from "./WsMetrics.js"

/** What the outbox needs from its session. */
export interface Owner {
  readonly ended: () => boolean
  readonly end: (ending: Ending) => void
  /** Resolved when the session ends: a sender waiting for room stops waiting. Made on the first
   * call (only a sender that must wait asks), so an idle session holds no Deferred. */
  readonly quitSignal: () => Deferred.Deferred<Ending>
  /** Forks a worker the session interrupts when it ends. */
  readonly fork: (name: string, work: Effect.Effect<void>) => Fiber.RuntimeFiber<void>
}

/** A class: its methods live once on the prototype, not as closures in every session. */
export class Outbox {
  private queue: Queue.Queue<string> | undefined
  /** The writer while it runs (set before it starts, cleared by itself once the Queue is empty). */
  writer: Fiber.RuntimeFiber<void> | undefined

  constructor(
    private readonly ws: Pick<WebSocket, "readyState" | "OPEN" | "bufferedAmount" | "send">,
    private readonly capacity: number,
    private readonly owner: Owner
  ) {}

  /** Sends or queues `text` if there is room right now; false when the Queue is full. */
  offer(text: string): boolean {
    if (this.owner.ended()) return true // nothing more goes out once the session is ending
    if (this.writer === undefined) {
      if (this.ws.readyState !== this.ws.OPEN) return true // dropped, as the writer would ("closed")
      if (this.ws.bufferedAmount <= HIGH_WATER_BYTES) {
        this.ws.send(text)
        WsMetrics.messageOut()
        return true
      }
    }
    this.queue ??= Effect.runSync(Queue.bounded<string>(this.capacity)) // owner: none needed, a synchronous allocation
    if (!Queue.unsafeOffer(this.queue, text)) return false
    if (this.writer === undefined) this.writer = this.owner.fork("writer", this.writeLoop(this.queue))
    return true
  }

  /** Queues `text`, waiting for room; returns at once when the session has ended. The common case
   * (room now) forks nothing; only a full Queue races the offer against `quit`. */
  send(text: string): Effect.Effect<void> {
    return Effect.suspend(() =>
      this.offer(text) ? Effect.void : Effect.asVoid(Effect.race(Queue.offer(this.queue!, text), Deferred.await(this.owner.quitSignal())))
    )
  }

  private writeLoop(queue: Queue.Queue<string>): Effect.Effect<void> {
    const self = this
    return Effect.gen(function*() {
      while (true) {
        const next = yield* Queue.poll(queue)
        if (Option.isNone(next)) {
          // Checked and cleared in one step: an offer either sees this writer or starts another.
          const done = yield* Effect.sync(() => {
            if (Option.getOrElse(queue.unsafeSize(), () => 0) > 0) return false
            self.writer = undefined
            return true
          })
          if (done) return
          continue
        }
        const room = yield* awaitRoom(self.ws)
        if (room === "stalled") return self.owner.end({ code: CloseCode.PolicyViolation, reason: "slow consumer", byPeer: false })
        // "closed": nothing more reaches the peer, and whoever closed decides the ending; the frame
        // is dropped so that senders waiting for room go on.
        if (room === "writable") {
          self.ws.send(next.value)
          WsMetrics.messageOut()
        }
      }
    })
  }
}
