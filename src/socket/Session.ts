/**
 * One WebSocket connection: Go's player loop (a reader and a writer sharing a quit channel, a
 * heartbeat beside them) as three fibers in one scope.
 * Owns: the socket, its bounded outbox, and exactly three fibers: reader, writer, heartbeat.
 * Does not own: the hub (it registers itself and unregisters on the way out).
 * Released when: the first of the three ends, for any reason (peer close, error, pong timeout,
 *   slow consumer, shutdown): the race interrupts the other two, and the cleanup after it
 *   (close frame, hub unregister, metrics, one log line) runs exactly once.
 */
import { Clock, type Context, Deferred, Duration, Effect, Either, Exit, Queue } from "effect"
import type { WebSocket } from "ws"
import type { AppConfigShape } from "../config/AppConfig.js"
import type { FiberRegistry } from "../lifecycle/FiberRegistry.js"
import { decode, errorFrame } from "./Messages.js"
import * as WsMetrics from "./WsMetrics.js"

/** Close codes this server sends (RFC 6455 section 7.4.1). */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001, // the server is shutting down
  PolicyViolation: 1008, // slow consumer: its outbox stayed full
  TooBig: 1009, // a message over WS_MAX_MESSAGE_BYTES
  InternalError: 1011 // no pong within WS_PONG_TIMEOUT_MS, or a socket error
} as const

export interface Ending {
  readonly code: number
  readonly reason: string
  /** true when the peer closed first (no close frame of ours to send) */
  readonly byPeer: boolean
}

/** What the hub holds for a session: enough to reach it, never to own it. */
export interface SessionHandle {
  /** Queues a frame; false (and the session ends with 1008) when its outbox is full. */
  readonly send: (text: string) => boolean
  /** Asks the session to end with `code`; it closes its own socket. */
  readonly stop: (code: number, reason: string) => void
  /** Cuts the connection without a close handshake (a peer that will not answer). */
  readonly terminate: () => void
}

export interface Peers {
  readonly register: (id: string, handle: SessionHandle) => void
  readonly unregister: (id: string) => void
  readonly broadcast: (text: string) => number
}

type Config = Pick<AppConfigShape, "wsPingIntervalMs" | "wsPongTimeoutMs" | "wsSendQueue">

/** The writer stops handing frames to ws while this much is still unsent (the peer reads slowly). */
const HIGH_WATER_BYTES = 1024 * 1024
/** After our close frame, how long a peer gets to answer before the socket is cut. */
const CLOSE_WAIT = Duration.seconds(1)

export const run = (
  id: string,
  ws: WebSocket,
  peers: Peers,
  config: Config,
  registry: Context.Tag.Service<typeof FiberRegistry>
) =>
  Effect.gen(function*() {
    const openedAt = yield* Clock.currentTimeMillis
    const outbox = yield* Effect.acquireRelease(Queue.bounded<string>(config.wsSendQueue), Queue.shutdown)
    // The quit channel: whoever ends the session first decides its code; later calls are no-ops.
    const quit = yield* Deferred.make<Ending>()
    const end = (ending: Ending) => Deferred.unsafeDone(quit, Exit.succeed(ending))
    const handle: SessionHandle = {
      send: (text) => {
        if (Queue.unsafeOffer(outbox, text)) return true
        end({ code: CloseCode.PolicyViolation, reason: "slow consumer", byPeer: false })
        return false
      },
      stop: (code, reason) => end({ code, reason, byPeer: false }),
      terminate: () => ws.terminate()
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        peers.register(id, handle)
        WsMetrics.sessionOpened()
      }),
      () =>
        Effect.sync(() => {
          peers.unregister(id)
          WsMetrics.sessionClosed()
        })
    )

    const reader = Effect.async<Ending>((resume) => {
      const onMessage = (data: Buffer | ArrayBuffer | Array<Buffer>, isBinary: boolean) => {
        WsMetrics.messageIn()
        Either.match(decode(data, isBinary), {
          onLeft: (error) => void handle.send(errorFrame(error)),
          onRight: (message) => {
            const frame = JSON.stringify(message)
            if (message.type === "echo") handle.send(frame)
            else peers.broadcast(frame)
          }
        })
      }
      const onClose = (code: number) => resume(Effect.succeed({ code, reason: "peer closed", byPeer: true }))
      const onError = (error: Error & { code?: string }) =>
        resume(Effect.succeed({
          code: error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH" ? CloseCode.TooBig : CloseCode.InternalError,
          reason: error.message,
          byPeer: false
        }))
      ws.on("message", onMessage)
      ws.once("close", onClose)
      ws.once("error", onError)
      return Effect.sync(() => {
        ws.off("message", onMessage)
        ws.off("close", onClose)
        ws.off("error", onError)
      })
    })

    const writable = Effect.suspend(() => ws.bufferedAmount <= HIGH_WATER_BYTES ? Effect.void : Effect.sleep("10 millis")).pipe(
      Effect.repeat({ until: () => ws.bufferedAmount <= HIGH_WATER_BYTES })
    )
    const writer = Effect.forever(
      Effect.flatMap(Queue.take(outbox), (text) =>
        Effect.zipRight(
          writable,
          Effect.sync(() => {
            ws.send(text)
            WsMetrics.messageOut()
          })
        ))
    ).pipe(Effect.as<Ending>({ code: CloseCode.InternalError, reason: "writer stopped", byPeer: false }))

    let ponged = true
    const onPong = () => {
      ponged = true
    }
    ws.on("pong", onPong)
    const heartbeat = Effect.gen(function*() {
      while (true) {
        yield* Effect.sleep(config.wsPingIntervalMs)
        ponged = false
        ws.ping()
        yield* Effect.sleep(config.wsPongTimeoutMs)
        if (!ponged) return { code: CloseCode.InternalError, reason: "no pong within WS_PONG_TIMEOUT_MS", byPeer: false } satisfies Ending
      }
    }).pipe(Effect.ensuring(Effect.sync(() => ws.off("pong", onPong))))

    const owner = `ws.session/${id}`
    const ending: Ending = yield* Effect.raceAll([
      reader.pipe(registry.track(`${owner}/reader`, "ws")),
      writer.pipe(registry.track(`${owner}/writer`, "ws")),
      heartbeat.pipe(registry.track(`${owner}/heartbeat`, "ws")),
      Deferred.await(quit)
    ])

    // Cleanup, exactly once: our close frame (unless the peer closed first), then a bounded wait
    // for the peer's answer, then the socket is cut whatever happened.
    if (!ending.byPeer && ws.readyState === ws.OPEN) ws.close(ending.code, ending.reason)
    if (ws.readyState !== ws.CLOSED) {
      yield* Effect.async<void>((resume) => {
        const closed = () => resume(Effect.void)
        ws.once("close", closed)
        return Effect.sync(() => ws.off("close", closed))
      }).pipe(Effect.timeoutOption(CLOSE_WAIT))
    }
    ws.terminate()
    const closedAt = yield* Clock.currentTimeMillis
    yield* Effect.logInfo("ws session closed").pipe(
      Effect.annotateLogs({ sessionId: id, durationMs: closedAt - openedAt, closeCode: ending.code, reason: ending.reason })
    )
    return ending
  }).pipe(Effect.scoped)
