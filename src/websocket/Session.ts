/**
 * One WebSocket connection: Go's player loop (a reader and a writer sharing a quit channel, a
 * heartbeat beside them), with the reader and the writer run only while they have work.
 * Owns: the socket, its listeners, its inbox (frames read, not yet acted on), its bounded Outbox,
 *   its one fiber (waiting on `quit`), and while they have work a reader and a writer fiber.
 * Does not own: the hub (it registers itself and unregisters on the way out), the heartbeat (it
 *   joins the hub's, one loop for all sessions), nor the other sessions' outboxes it broadcasts
 *   into (it only waits for room in them).
 * Released when: the first reason to end comes (peer close, protocol error, pong timeout, slow
 *   consumer, a throw): it sends its close frame and waits a bounded time for the peer's answer.
 *   Everything else is a finalizer next to its acquire, so an interrupted session (the hub's scope
 *   closing) cleans up too, without waiting on the peer: reader and writer interrupted, close frame
 *   (1001 when nothing was sent yet) and terminate, hub unregister, listeners removed, one log line.
 *
 * Idle costs (issue 21: a WebSocket in 25 KB): an idle session is one fiber waiting on a Deferred,
 * its listeners and a place in the hub's map and heartbeat; no queue, no timer, no other fiber.
 * Hot path: ws hands us frames synchronously in its `message` callback; when nothing is queued
 * before a frame and its answer fits (the outbox is empty and ws has room), it is decoded and
 * answered right there, inside the edge's guard. Anything else (a broadcast, a full outbox, a
 * backlog) goes to the inbox, which the reader works through one at a time; where a recipient's
 * outbox is full, it waits for room. A burst slows down its own sender (the socket is paused once
 * INBOX_HIGH_WATER frames wait), never overflows anyone's outbox. Only a peer that does not read is
 * cut off (SlowConsumer: 1008).
 *
 * Every callback handed to ws goes through `edge.guard`: a throw fails this session (1011, or the
 * code ws already sent), logged once at warn with its cause; a defect in the reader, the writer or
 * the heartbeat does the same. Nothing here can end the process or another session.
 */
import { Cause, Clock, type Context, Deferred, Effect, Either, Exit, Fiber, FiberRef, Runtime } from "effect"
import type { RawData, WebSocket } from "ws"
import type { WebSocketConfigShape } from "./WebSocketConfig.js"
import type { FiberRegistry } from "../lifecycle/FiberRegistry.js"
import type { Edge } from "../lifecycle/NodeEdge.js"
import { CloseCode, sentByWs } from "./CloseCode.js"
import { closeHandshake, closeReason } from "./CloseHandshake.js"
import * as Heartbeat from "./Heartbeat.js"
import { decode, encode, errorFrame } from "./Messages.js"
import { Outbox } from "./Outbox.js"
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
  /** Queues (or sends) a frame if its outbox has room right now; false when it is full. */
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

/** What a frame (or the end of the socket) asks of the session, in the order it arrived. */
type Action =
  | { readonly _tag: "Send"; readonly text: string }
  | { readonly _tag: "Broadcast"; readonly text: string }
  | { readonly _tag: "End"; readonly ending: Ending }

/** Actions waiting in the inbox before the socket is paused, and the count it resumes at. Past the
 * pause only what ws already holds from the current socket read (at most 64 KiB) still arrives. */
const INBOX_HIGH_WATER = 64
const INBOX_LOW_WATER = 16

const ignoreLateError = () => undefined

const internalError = (reason: string): Ending => ({ code: CloseCode.InternalError, reason, byPeer: false })

/** What a frame asks for: decoded and encoded synchronously (it cannot throw, see Messages). */
const actionOf = (id: string, edge: Edge, data: RawData, isBinary: boolean): Action =>
  Either.match(decode(data, isBinary), {
    onLeft: (error): Action => {
      edge.clientError("ws bad message", error, { sessionId: id })
      return { _tag: "Send", text: errorFrame(error) }
    },
    onRight: (message): Action => ({ _tag: message.type === "echo" ? "Send" : "Broadcast", text: encode(message) })
  })

/**
 * Runs one session until it ends; gives its ending as it went out on the wire. `heartbeat` is the
 * hub's shared one; without it the session runs its own (tests of one session alone).
 * Not an `Effect.fn`: a span per session would be held for the session's whole life.
 */
export const run = (
  id: string,
  ws: WebSocket,
  peers: Peers,
  config: Config,
  registry: Context.Tag.Service<typeof FiberRegistry>,
  edge: Edge,
  heartbeat?: Heartbeat.Heartbeat
): Effect.Effect<Ending> =>
  heartbeat === undefined
    ? Effect.scoped(Effect.flatMap(Heartbeat.make(config), (own) => session(id, ws, peers, config, registry, edge, own)))
    : session(id, ws, peers, config, registry, edge, heartbeat)

/**
 * The session proper: set up synchronously, then one acquireUseRelease. Its release is the
 * finalizers below, each written next to what it releases and run in reverse order of acquisition
 * (workers, socket, hub registration, listeners, log line). One release rather than a Scope of five
 * finalizers: each finalizer is a few closures and frames held for the session's whole life, and an
 * idle session is mostly that (issue 21).
 */
const session = (
  id: string,
  ws: WebSocket,
  peers: Peers,
  config: Config,
  registry: Context.Tag.Service<typeof FiberRegistry>,
  edge: Edge,
  beats: Heartbeat.Heartbeat
): Effect.Effect<Ending> =>
  Effect.withFiberRuntime<Ending>((sessionFiber, status) => {
    let openedAt = 0
    // The quit channel: whoever ends the session first decides its code; later calls are no-ops.
    const quit = Deferred.unsafeMake<Ending>(sessionFiber.id())
    let ended = false
    // The session fiber itself waits on the first ending through a bare callback rather than
    // Deferred.await: that one's canceler (an onInterrupt: uninterruptible, match and interruptible
    // frames, and their closures) would sit on every idle session's stack (issue 21). Interrupted,
    // the callback is simply never called.
    let firstEnding: Ending | undefined
    let wake: ((ending: Effect.Effect<Ending>) => void) | undefined
    const end = (ending: Ending) => {
      ended = true
      Deferred.unsafeDone(quit, Exit.succeed(ending))
      if (firstEnding !== undefined) return
      firstEnding = ending
      wake?.(Effect.succeed(ending))
      wake = undefined
    }
    const awaitQuit = Effect.async<Ending>((resume) => {
      if (firstEnding !== undefined) resume(Effect.succeed(firstEnding))
      else wake = resume
    })
    // Why it quit (once it has), and how that went out on the wire: set by the close handshake, or
    // by the finalizer when interrupted.
    let quitWith: Ending | undefined
    let outcome: Ending | undefined

    // Finalizer: the one log line, whatever ended the session (the last release step).
    const logClosed = () => Effect.flatMap(Clock.currentTimeMillis, (closedAt) => {
      const ending = outcome ?? internalError("session ended before its socket was closed")
      return Effect.logInfo("ws session closed").pipe(
        Effect.annotateLogs({ sessionId: id, durationMs: closedAt - openedAt, closeCode: ending.code, reason: ending.reason })
      )
    })

    // Reader and writer are forked from ws's callbacks only while they have work; `stopWorkers`
    // interrupts whichever still runs. Their runtime is the session fiber's, made at the first fork.
    let runtime: Runtime.Runtime<never> | undefined
    const runtimeOf = () =>
      runtime ??= Runtime.make({
        context: sessionFiber.getFiberRef(FiberRef.currentContext),
        runtimeFlags: status.runtimeFlags,
        fiberRefs: sessionFiber.getFiberRefs()
      })
    const contained = (name: string, fiber: Effect.Effect<void>) =>
      fiber.pipe(
        Effect.catchAllDefect((defect) =>
          Effect.zipRight(
            Effect.logWarning(`ws session ${name} threw; failing only this session`, Cause.die(defect)).pipe(
              Effect.annotateLogs({ sessionId: id })
            ),
            Effect.sync(() => end(internalError(`the ${name} threw`)))
          )
        ),
        registry.track(`ws.session/${id}/${name}`, "ws")
      )
    // Started on the scheduler, not inside the caller's callback: the caller has already set the
    // flag that says it runs, so a frame arriving meanwhile queues behind it.
    const fork = (name: string, fiber: Effect.Effect<void>) =>
      Runtime.runFork(runtimeOf())(contained(name, fiber), { immediate: false }) // owner: this session (interrupted at quit and by its finalizer)

    // The outbox (see Outbox): frames for the peer, sent at once while it has room.
    const outbox = new Outbox(ws, config.wsSendQueue, { ended: () => ended, end, quit, fork })
    const handle: SessionHandle = {
      offer: (text) => outbox.offer(text),
      send: (text) => outbox.send(text),
      stop: (code, reason) => end({ code, reason, byPeer: false }),
      terminate: () => ws.terminate()
    }

    // The inbox: made on the first action that cannot be done at once; worked through by the reader.
    let inbox: Array<Action> | undefined
    let reader: Fiber.RuntimeFiber<void> | undefined
    let paused = false
    let pauses = 0
    const resumeReading = () => {
      if (!paused) return
      paused = false
      ws.resume()
    }
    const readLoop = () => Effect.gen(function*() {
      while (true) {
        const action = yield* Effect.sync(() => {
          const next = inbox!.shift()
          if (next === undefined) reader = undefined
          else if (inbox!.length <= INBOX_LOW_WATER) resumeReading()
          return next
        })
        if (action === undefined) return
        if (action._tag === "End") return end(action.ending)
        yield* action._tag === "Send" ? handle.send(action.text) : peers.broadcast(action.text)
      }
    })
    /** Does `action` now if nothing is queued before it and it needs no waiting; else queues it. */
    const receive = (action: Action) => {
      // Once the session is ending nothing more is acted on, and the socket must stay readable so
      // the peer's answer to our close frame is seen.
      if (ended) return
      if (reader === undefined) {
        if (action._tag === "End") return end(action.ending)
        if (action._tag === "Send" && outbox.offer(action.text)) return
      }
      ;(inbox ??= []).push(action)
      if (!paused && inbox.length >= INBOX_HIGH_WATER) {
        paused = true
        pauses += 1
        ws.pause()
      }
      if (reader === undefined) reader = fork("reader", readLoop())
    }

    // What ws sent or received on its own, recorded first thing in its callbacks, so the logged
    // close code is the one on the wire.
    let wsSent: number | undefined
    let peerSent: number | undefined
    const listeners = {
      message: edge.guard("ws message", (data: RawData, isBinary: boolean) => {
        WsMetrics.messageIn()
        if (!ended) receive(actionOf(id, edge, data, isBinary))
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
    // A pong we could not read because we paused the socket (backpressure on a burst) is not a
    // missing pong: that round is not counted.
    let ponged = true
    let pinged = false
    let pausesAtPing = 0
    const beat: Heartbeat.Beat = {
      sessionId: id,
      ping: () => {
        ponged = false
        pinged = true
        pausesAtPing = pauses
        ws.ping()
      },
      check: () => {
        const weStoppedReading = paused || pauses !== pausesAtPing
        if (pinged && !ponged && !weStoppedReading) {
          end({ code: CloseCode.InternalError, reason: "no pong within WS_PONG_TIMEOUT_MS", byPeer: false })
        }
      },
      failed: () => end(internalError("the heartbeat threw"))
    }
    // Acquired: the listeners. Finalizer: taken off again.
    const attachListeners = () => {
      ws.on("message", listeners.message)
      ws.on("close", listeners.close)
      ws.on("error", listeners.error)
      ws.on("pong", listeners.pong)
    }
    const detachListeners = () => {
      ws.off("message", listeners.message)
      ws.off("close", listeners.close)
      ws.off("pong", listeners.pong)
      // ws emits `error` to a listener or throws it (an uncaught exception). After the session it
      // can still emit one: cutting a paused socket makes ws parse what was left in its buffer.
      // Nobody is left to act on it (ws closes the socket itself), so it is swallowed.
      ws.on("error", ignoreLateError)
      ws.off("error", listeners.error)
    }
    // Acquired: a place in the hub and in the heartbeat. Finalizer: given up.
    const register = () => {
      peers.register(id, handle)
      beats.add(beat)
      WsMetrics.sessionOpened()
    }
    const unregister = () => {
      beats.remove(beat)
      peers.unregister(id)
      WsMetrics.sessionClosed()
    }
    // Acquired: the socket, handed to us open. Finalizer: given back closed. Interrupted before the
    // handshake, the close frame goes out and the socket is cut at once: a release never waits on
    // the peer.
    const releaseSocket = () => {
      ended = true
      if (outcome === undefined) {
        if (ws.readyState === ws.OPEN) {
          try {
            ws.close(CloseCode.GoingAway, closeReason("server shutting down"))
            outcome = { code: CloseCode.GoingAway, reason: "session interrupted", byPeer: false }
          } catch {
            // Cut below all the same.
          }
        }
        // Interrupted during the handshake: our close frame (first.code) is already out.
        outcome ??= quitWith !== undefined && !quitWith.byPeer
          ? { ...quitWith, code: wsSent ?? quitWith.code, reason: `${quitWith.reason} (interrupted in the close handshake)` }
          : { code: wsSent ?? peerSent ?? 1006, reason: "session interrupted", byPeer: peerSent !== undefined }
      }
      ws.terminate()
    }
    // Finalizer of the reader and writer forked while the session ran.
    const stopWorkers = () => {
      const running = [reader, outbox.writer].filter((fiber) => fiber !== undefined)
      return running.length === 0 ? Effect.void : Fiber.interruptAll(running)
    }

    // Runs synchronously inside ws's upgrade callback (the hub's FiberSet runtime starts the session
    // fiber at once, and nothing here suspends): a frame sent in the same packet as the upgrade
    // request is parsed only after it, so it is neither lost nor an `error` event with no listener.
    const acquire = Effect.map(Clock.currentTimeMillis, (now) => {
      openedAt = now
      attachListeners()
      register()
    })
    // Built when needed, not up front: an idle session holds only what it waits on.
    const use = () =>
      Effect.flatMap(awaitQuit, (first) => {
        quitWith = first
        // Nothing more is read or written by the workers; what the handshake needs it does itself.
        const handshake = closeHandshake(ws, first, { wsSent: () => wsSent, peerSent: () => peerSent, resumeReading })
        return Effect.zipRight(stopWorkers(), Effect.map(handshake, (ending) => (outcome = ending)))
      })
    const release = () =>
      Effect.zipRight(
        Effect.suspend(stopWorkers),
        Effect.suspend(() => {
          releaseSocket()
          unregister()
          detachListeners()
          return logClosed()
        })
      )
    return Effect.acquireUseRelease(acquire, use, release)
  })
