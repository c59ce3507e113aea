/**
 * One WebSocket connection: Go's player loop (a reader and a writer sharing a quit channel, a
 * heartbeat beside them) as three fibers in one scope.
 * Owns: the socket, its listeners, its inbox (frames read, not yet acted on), its bounded outbox,
 *   and exactly three fibers: reader, writer, heartbeat.
 * Does not own: the hub (it registers itself and unregisters on the way out), nor the other
 *   sessions' outboxes it broadcasts into (it only waits for room in them).
 * Released when: the first of the three ends, for any reason (peer close, protocol error, pong
 *   timeout, slow consumer, shutdown, a throw): the race interrupts the other two, and the cleanup
 *   after it (close frame, hub unregister, metrics, one log line) runs exactly once.
 *
 * Bursts: ws hands us every frame of one socket read synchronously, faster than any writer fiber
 * can run. So the `message` callback only queues the frame in the inbox (and pauses the socket
 * once INBOX_HIGH_WATER frames wait); the reader acts on them one at a time and, where a
 * recipient's outbox is full, waits for room. A burst slows down its own sender, never overflows
 * anyone's outbox. Only a peer that does not read is cut off (SlowConsumer: 1008).
 *
 * Every callback handed to ws goes through `edge.guard`: a throw fails this session (1011, or the
 * code ws already sent), logged once at warn with its cause; a defect in one of the three fibers
 * does the same. Nothing here can end the process or another session.
 */
import { Cause, Clock, type Context, Deferred, Effect, Either, Exit, Queue } from "effect"
import type { RawData, WebSocket } from "ws"
import type { WebSocketConfigShape } from "./WebSocketConfig.js"
import type { FiberRegistry } from "../lifecycle/FiberRegistry.js"
import type { Edge } from "../lifecycle/NodeEdge.js"
import { CloseCode, sentByWs } from "./CloseCode.js"
import { closeHandshake } from "./CloseHandshake.js"
import { decode, encode, errorFrame } from "./Messages.js"
import { awaitRoom } from "./SlowConsumer.js"
import * as WsMetrics from "./WsMetrics.js"

export { CloseCode }

export interface Ending {
  /** The close code on the wire (sent by us, by ws for a protocol error, or by the peer). */
  readonly code: number
  readonly reason: string
  /** true when the peer closed first (no close frame of ours to send) */
  readonly byPeer: boolean
}

/** What the hub holds for a session: enough to reach it, never to own it. */
export interface SessionHandle {
  /** Queues a frame if its outbox has room right now; false when it is full. */
  readonly offer: (text: string) => boolean
  /** Queues a frame, waiting for room in its outbox; returns at once when the session has ended. */
  readonly send: (text: string) => Effect.Effect<void>
  /** Asks the session to end with `code`; it closes its own socket. */
  readonly stop: (code: number, reason: string) => void
  /** Cuts the connection without a close handshake (a peer that will not answer). */
  readonly terminate: () => void
}

export interface Peers {
  readonly register: (id: string, handle: SessionHandle) => void
  readonly unregister: (id: string) => void
  /** Queues `text` for every live session, waiting where an outbox is full; gives their count. */
  readonly broadcast: (text: string) => Effect.Effect<number>
}

type Config = Pick<WebSocketConfigShape, "wsPingIntervalMs" | "wsPongTimeoutMs" | "wsSendQueue">

type Inbound =
  | { readonly _tag: "Frame"; readonly data: RawData; readonly isBinary: boolean }
  | { readonly _tag: "End"; readonly ending: Ending }

/** Frames waiting in the inbox before the socket is paused, and the count it resumes at. Past the
 * pause only what ws already holds from the current socket read (at most 64 KiB) still arrives. */
const INBOX_HIGH_WATER = 64
const INBOX_LOW_WATER = 16

const ignoreLateError = () => undefined

const internalError = (reason: string): Ending => ({ code: CloseCode.InternalError, reason, byPeer: false })

export const run = (
  id: string,
  ws: WebSocket,
  peers: Peers,
  config: Config,
  registry: Context.Tag.Service<typeof FiberRegistry>,
  edge: Edge
) =>
  Effect.gen(function*() {
    const openedAt = yield* Clock.currentTimeMillis
    // Never shut down: a sender waiting for room is released by `quit` instead (see `send`).
    const outbox = yield* Queue.bounded<string>(config.wsSendQueue)
    const inbox = yield* Queue.unbounded<Inbound>()
    // The quit channel: whoever ends the session first decides its code; later calls are no-ops.
    const quit = yield* Deferred.make<Ending>()
    const end = (ending: Ending) => Deferred.unsafeDone(quit, Exit.succeed(ending))
    const handle: SessionHandle = {
      offer: (text) => Queue.unsafeOffer(outbox, text),
      // The common case (room now) forks nothing; only a full outbox races the offer against `quit`.
      send: (text) =>
        Effect.suspend(() =>
          Queue.unsafeOffer(outbox, text) ? Effect.void : Effect.asVoid(Effect.race(Queue.offer(outbox, text), Deferred.await(quit)))
        ),
      stop: (code, reason) => end({ code, reason, byPeer: false }),
      terminate: () => ws.terminate()
    }

    // What ws sent or received on its own, recorded first thing in its callbacks, so the logged
    // close code is the one on the wire.
    let wsSent: number | undefined
    let peerSent: number | undefined
    let pending = 0
    let paused = false
    let pauses = 0
    // Once the session is closing nothing more is acted on, and the socket must stay readable so
    // the peer's answer to our close frame is seen.
    let closing = false
    const receive = (item: Inbound) => {
      if (closing) return
      Queue.unsafeOffer(inbox, item)
      pending += 1
      if (!paused && pending >= INBOX_HIGH_WATER) {
        paused = true
        pauses += 1
        ws.pause()
      }
    }
    const resumeReading = () => {
      if (!paused) return
      paused = false
      ws.resume()
    }
    let ponged = true
    const listeners = {
      message: edge.guard("ws message", (data: RawData, isBinary: boolean) => {
        WsMetrics.messageIn()
        receive({ _tag: "Frame", data, isBinary })
      }, () => end(internalError("the message callback threw"))),
      close: edge.guard("ws close", (code: number) => {
        peerSent = code
        receive({ _tag: "End", ending: { code, reason: "peer closed", byPeer: true } })
      }, (_thrown, code) => end({ code, reason: "peer closed", byPeer: true })),
      error: edge.guard("ws error", (error: Error) => {
        wsSent = sentByWs(error)
        // A protocol error (1002/1007/1009) is the client's doing: ws has already closed with it.
        if (wsSent !== undefined) edge.clientError("ws bad frame", error.message, { sessionId: id, closeCode: wsSent })
        receive({ _tag: "End", ending: { code: wsSent ?? CloseCode.InternalError, reason: error.message, byPeer: false } })
      }, (_thrown, error) => {
        wsSent = sentByWs(error)
        end({ code: wsSent ?? CloseCode.InternalError, reason: "the error callback threw", byPeer: false })
      }),
      pong: edge.guard("ws pong", () => {
        ponged = true
      }, () => end(internalError("the pong callback threw")))
    }
    // This runs synchronously inside ws's upgrade callback (the hub's FiberSet runtime starts the
    // session fiber at once, and nothing above suspends): a frame sent in the same packet as the upgrade request is
    // parsed only after it, so it is neither lost nor an `error` event with no listener.
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        ws.on("message", listeners.message)
        ws.on("close", listeners.close)
        ws.on("error", listeners.error)
        ws.on("pong", listeners.pong)
        peers.register(id, handle)
        WsMetrics.sessionOpened()
      }),
      () =>
        Effect.sync(() => {
          peers.unregister(id)
          WsMetrics.sessionClosed()
          ws.off("message", listeners.message)
          ws.off("close", listeners.close)
          ws.off("pong", listeners.pong)
          // ws emits `error` to a listener or throws it (an uncaught exception). After the session it
          // can still emit one: cutting a paused socket makes ws parse what was left in its buffer.
          // Nobody is left to act on it (ws closes the socket itself), so it is swallowed.
          ws.on("error", ignoreLateError)
          ws.off("error", listeners.error)
        })
    )

    const act = (data: RawData, isBinary: boolean): Effect.Effect<void> =>
      Either.match(decode(data, isBinary), {
        onLeft: (error) =>
          Effect.zipRight(
            Effect.sync(() => edge.clientError("ws bad message", error, { sessionId: id })),
            handle.send(errorFrame(error))
          ),
        onRight: (message) =>
          message.type === "echo" ? handle.send(encode(message)) : Effect.asVoid(peers.broadcast(encode(message)))
      })

    const reader = Effect.gen(function*() {
      while (true) {
        const item = yield* Queue.take(inbox)
        pending -= 1
        if (pending <= INBOX_LOW_WATER) resumeReading()
        if (item._tag === "End") return item.ending
        yield* act(item.data, item.isBinary)
      }
    })

    const writer = Effect.gen(function*() {
      while (true) {
        const text = yield* Queue.take(outbox)
        const room = yield* awaitRoom(ws)
        if (room === "stalled") return { code: CloseCode.PolicyViolation, reason: "slow consumer", byPeer: false } satisfies Ending
        // "closed": nothing more reaches the peer, and whoever closed decides the ending; the frame
        // is dropped so that senders waiting for room go on.
        if (room === "writable") {
          ws.send(text)
          WsMetrics.messageOut()
        }
      }
    })

    // A pong we could not read because we paused the socket (backpressure on a burst) is not a
    // missing pong: that round is not counted.
    const heartbeat = Effect.gen(function*() {
      while (true) {
        yield* Effect.sleep(config.wsPingIntervalMs)
        ponged = false
        const pausesBefore = pauses
        ws.ping()
        yield* Effect.sleep(config.wsPongTimeoutMs)
        const weStoppedReading = paused || pauses !== pausesBefore
        if (!ponged && !weStoppedReading) {
          return { code: CloseCode.InternalError, reason: "no pong within WS_PONG_TIMEOUT_MS", byPeer: false } satisfies Ending
        }
      }
    })

    // A defect in one of the fibers is a bug: this session pays for it (1011), nothing else does.
    const owner = `ws.session/${id}`
    const contained = (name: string, fiber: Effect.Effect<Ending>) =>
      fiber.pipe(
        Effect.catchAllDefect((defect) =>
          Effect.as(
            Effect.logWarning(`ws session ${name} threw; failing only this session`, Cause.die(defect)).pipe(
              Effect.annotateLogs({ sessionId: id })
            ),
            internalError(`the ${name} threw`)
          )
        ),
        registry.track(`${owner}/${name}`, "ws")
      )
    const first: Ending = yield* Effect.raceAll([
      contained("reader", reader),
      contained("writer", writer),
      contained("heartbeat", heartbeat),
      Deferred.await(quit)
    ])
    const seen = {
      wsSent: () => wsSent,
      peerSent: () => peerSent,
      quit: () => {
        closing = true
        end(first)
      },
      resumeReading
    }
    return yield* closeHandshake(ws, first, seen).pipe(
      Effect.tap((ending) =>
        Effect.flatMap(Clock.currentTimeMillis, (closedAt) =>
          Effect.logInfo("ws session closed").pipe(
            Effect.annotateLogs({ sessionId: id, durationMs: closedAt - openedAt, closeCode: ending.code, reason: ending.reason })
          ))
      )
    )
  }).pipe(Effect.scoped)
