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
 * Idle costs (issue 21: a WebSocket in 25 KB): an idle session is one fiber waiting on a bare
 * callback, one object holding its state (its steps are methods, not closures), its Outbox, and a
 * place in the hub's map and heartbeat; its listeners are shared by every session of the hub. No
 * queue, no Deferred, no timer, no other fiber.
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
import { Cause, Clock, type Context, Deferred, Effect, Either, Exit, Fiber, FiberRef, Runtime, type RuntimeFlags } from "effect"
import type { RawData, WebSocket } from "ws"
import type { WebSocketConfigShape } from "./WebSocketConfig.js"
import type { FiberRegistry } from "../lifecycle/FiberRegistry.js"
import type { Edge } from "../lifecycle/NodeEdge.js"
import { CloseCode, sentByWs } from "./CloseCode.js"
import { closeHandshake, closeReason } from "./CloseHandshake.js"
import * as Heartbeat from "./Heartbeat.js"
import { decode, encode, errorFrame } from "./Messages.js"
import { Outbox, type Owner } from "./Outbox.js"
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
    ? Effect.scoped(Effect.flatMap(Heartbeat.make(config), (own) => run(id, ws, peers, config, registry, edge, own)))
    : Effect.withFiberRuntime<Ending>((fiber, status) =>
      new LiveSession(id, ws, peers, config.wsSendQueue, registry, edge, heartbeat, fiber, status.runtimeFlags).run()
    )

/** The session whose socket this is, from attach to detach: how the shared listeners find it. */
const sessionOf = new WeakMap<WebSocket, LiveSession>()
const live = (ws: WebSocket) => sessionOf.get(ws)!

/** ws calls a listener with the socket as `this`. */
interface Listeners {
  readonly message: (this: WebSocket, data: RawData, isBinary: boolean) => void
  readonly close: (this: WebSocket, code: number) => void
  readonly error: (this: WebSocket, error: Error) => void
  readonly pong: (this: WebSocket) => void
}

/**
 * The four listeners every session hands to ws, made once per edge (per hub) and shared: each
 * guards its body with `edge.guard` and finds its session through the socket it is called on.
 * Four guards a session were a dozen closures held by every idle session (issue 21). The wrapper
 * only forwards `this`; what may throw runs inside the guard.
 */
const listenersByEdge = new WeakMap<Edge, Listeners>()
const listenersFor = (edge: Edge): Listeners => {
  const made = listenersByEdge.get(edge)
  if (made !== undefined) return made
  const message = edge.guard(
    "ws message",
    (ws: WebSocket, data: RawData, isBinary: boolean) => live(ws).onMessage(data, isBinary),
    (_thrown, ws) => live(ws).end(internalError("the message callback threw"))
  )
  const close = edge.guard(
    "ws close",
    (ws: WebSocket, code: number) => live(ws).onClose(code),
    (_thrown, ws, code) => live(ws).end({ code, reason: "peer closed", byPeer: true })
  )
  const error = edge.guard(
    "ws error",
    (ws: WebSocket, error: Error) => live(ws).onError(error),
    (_thrown, ws, error) => live(ws).onErrorThrew(error)
  )
  const pong = edge.guard(
    "ws pong",
    (ws: WebSocket) => live(ws).onPong(),
    (_thrown, ws) => live(ws).end(internalError("the pong callback threw"))
  )
  const listeners: Listeners = {
    message(data, isBinary) {
      message(this, data, isBinary)
    },
    close(code) {
      close(this, code)
    },
    error(thrown) {
      error(this, thrown)
    },
    pong() {
      pong(this)
    }
  }
  listenersByEdge.set(edge, listeners)
  return listeners
}

/**
 * One session's state, and its steps as methods: they live once on the prototype, not as closures
 * in every session (issue 21). It is also what the hub holds (SessionHandle), what the heartbeat
 * pings (Beat) and what its outbox reports to (Outbox's Owner).
 * Its release is the finalizers below, each written next to what it releases and run in reverse
 * order of acquisition (workers, socket, hub registration, listeners, log line). One release
 * rather than a Scope of five finalizers: each finalizer is a few closures and frames held for the
 * session's whole life, and an idle session is mostly that (issue 21).
 */
class LiveSession implements SessionHandle, Heartbeat.Beat, Owner {
  private readonly outbox: Outbox
  private readonly listeners: Listeners
  private openedAt = 0
  /** Set once the session is ending: nothing more is acted on or sent. */
  private quitting = false
  // The quit channel: whoever ends the session first decides its code; later calls are no-ops.
  // The session fiber waits on the first ending through a bare callback (`wake`) rather than
  // Deferred.await: that one's canceler (an onInterrupt: uninterruptible, match and interruptible
  // frames, and their closures) would sit on every idle session's stack (issue 21). Interrupted,
  // the callback is simply never called. The Deferred is made only for a sender that must wait
  // for room in the outbox (see quitSignal).
  private firstEnding: Ending | undefined = undefined
  private wake: ((ending: Effect.Effect<Ending>) => void) | undefined = undefined
  private quit: Deferred.Deferred<Ending> | undefined = undefined
  // Why it quit (once it has), and how that went out on the wire: set by the close handshake, or
  // by the finalizer when interrupted.
  private quitWith: Ending | undefined = undefined
  private outcome: Ending | undefined = undefined
  // Reader and writer are forked from ws's callbacks only while they have work; `stopWorkers`
  // interrupts whichever still runs. Their runtime is the session fiber's, made at the first fork.
  private runtime: Runtime.Runtime<never> | undefined = undefined
  // The inbox: made on the first action that cannot be done at once; worked through by the reader.
  private inbox: Array<Action> | undefined = undefined
  private reader: Fiber.RuntimeFiber<void> | undefined = undefined
  private paused = false
  private pauses = 0
  // What ws sent or received on its own, recorded first thing in its callbacks, so the logged
  // close code is the one on the wire.
  private wsSent: number | undefined = undefined
  private peerSent: number | undefined = undefined
  // A pong we could not read because we paused the socket (backpressure on a burst) is not a
  // missing pong: that round is not counted.
  private ponged = true
  private pinged = false
  private pausesAtPing = 0

  constructor(
    readonly sessionId: string,
    private readonly ws: WebSocket,
    private readonly peers: Peers,
    sendQueue: number,
    private readonly registry: Context.Tag.Service<typeof FiberRegistry>,
    private readonly edge: Edge,
    private readonly beats: Heartbeat.Heartbeat,
    private readonly fiber: Fiber.RuntimeFiber<Ending>,
    private readonly runtimeFlags: RuntimeFlags.RuntimeFlags
  ) {
    // The outbox (see Outbox): frames for the peer, sent at once while it has room.
    this.outbox = new Outbox(ws, sendQueue, this)
    this.listeners = listenersFor(edge)
  }

  // --- The quit channel (Owner) ---

  end(ending: Ending): void {
    this.quitting = true
    if (this.firstEnding !== undefined) return
    this.firstEnding = ending
    if (this.quit !== undefined) Deferred.unsafeDone(this.quit, Exit.succeed(ending))
    const wake = this.wake
    this.wake = undefined
    wake?.(Effect.succeed(ending))
  }

  ended(): boolean {
    return this.quitting
  }

  quitSignal(): Deferred.Deferred<Ending> {
    if (this.quit === undefined) {
      this.quit = Deferred.unsafeMake<Ending>(this.fiber.id())
      if (this.firstEnding !== undefined) Deferred.unsafeDone(this.quit, Exit.succeed(this.firstEnding))
    }
    return this.quit
  }

  private awaitQuit(): Effect.Effect<Ending> {
    return Effect.async<Ending>((resume) => {
      if (this.firstEnding !== undefined) resume(Effect.succeed(this.firstEnding))
      else this.wake = resume
    })
  }

  // --- Workers (Owner) ---

  // Started on the scheduler, not inside the caller's callback: the caller has already set the
  // flag that says it runs, so a frame arriving meanwhile queues behind it.
  fork(name: string, work: Effect.Effect<void>): Fiber.RuntimeFiber<void> {
    this.runtime ??= Runtime.make({
      context: this.fiber.getFiberRef(FiberRef.currentContext),
      runtimeFlags: this.runtimeFlags,
      fiberRefs: this.fiber.getFiberRefs()
    })
    return Runtime.runFork(this.runtime)(this.contained(name, work), { immediate: false }) // owner: this session (interrupted at quit and by its finalizer)
  }

  private contained(name: string, work: Effect.Effect<void>): Effect.Effect<void> {
    return work.pipe(
      Effect.catchAllDefect((defect) =>
        Effect.zipRight(
          Effect.logWarning(`ws session ${name} threw; failing only this session`, Cause.die(defect)).pipe(
            Effect.annotateLogs({ sessionId: this.sessionId })
          ),
          Effect.sync(() => this.end(internalError(`the ${name} threw`)))
        )
      ),
      this.registry.track(`ws.session/${this.sessionId}/${name}`, "ws")
    )
  }

  // --- What the hub holds (SessionHandle) ---

  offer(text: string): boolean {
    return this.outbox.offer(text)
  }

  send(text: string): Effect.Effect<void> {
    return this.outbox.send(text)
  }

  stop(code: number, reason: string): void {
    this.end({ code, reason, byPeer: false })
  }

  terminate(): void {
    this.ws.terminate()
  }

  // --- The inbox ---

  private resumeReading(): void {
    if (!this.paused) return
    this.paused = false
    this.ws.resume()
  }

  private nextAction(): Action | undefined {
    const next = this.inbox!.shift()
    if (next === undefined) this.reader = undefined
    else if (this.inbox!.length <= INBOX_LOW_WATER) this.resumeReading()
    return next
  }

  private readLoop(): Effect.Effect<void> {
    const self = this
    return Effect.gen(function*() {
      while (true) {
        const action = yield* Effect.sync(() => self.nextAction())
        if (action === undefined) return
        if (action._tag === "End") return self.end(action.ending)
        yield* action._tag === "Send" ? self.outbox.send(action.text) : self.peers.broadcast(action.text)
      }
    })
  }

  /** Does `action` now if nothing is queued before it and it needs no waiting; else queues it. */
  private receive(action: Action): void {
    // Once the session is ending nothing more is acted on, and the socket must stay readable so
    // the peer's answer to our close frame is seen.
    if (this.quitting) return
    if (this.reader === undefined) {
      if (action._tag === "End") return this.end(action.ending)
      if (action._tag === "Send" && this.outbox.offer(action.text)) return
    }
    const inbox = this.inbox ??= []
    inbox.push(action)
    if (!this.paused && inbox.length >= INBOX_HIGH_WATER) {
      this.paused = true
      this.pauses += 1
      this.ws.pause()
    }
    if (this.reader === undefined) this.reader = this.fork("reader", this.readLoop())
  }

  // --- ws's callbacks (called through the shared, guarded listeners) ---

  onMessage(data: RawData, isBinary: boolean): void {
    WsMetrics.messageIn()
    if (!this.quitting) this.receive(actionOf(this.sessionId, this.edge, data, isBinary))
  }

  onClose(code: number): void {
    this.peerSent = code
    this.receive({ _tag: "End", ending: { code, reason: "peer closed", byPeer: true } })
  }

  onError(error: Error): void {
    const wsSent = this.wsSent = sentByWs(error)
    // A protocol error (1002/1007/1009) is the client's doing: ws has already closed with it.
    if (wsSent !== undefined) {
      this.edge.clientError("ws bad frame", error.message, { sessionId: this.sessionId, closeCode: wsSent })
    }
    this.receive({ _tag: "End", ending: { code: wsSent ?? CloseCode.InternalError, reason: error.message, byPeer: false } })
  }

  onErrorThrew(error: Error): void {
    this.wsSent = sentByWs(error)
    this.end({ code: this.wsSent ?? CloseCode.InternalError, reason: "the error callback threw", byPeer: false })
  }

  onPong(): void {
    this.ponged = true
  }

  // --- The heartbeat's member (Beat) ---

  ping(): void {
    this.ponged = false
    this.pinged = true
    this.pausesAtPing = this.pauses
    this.ws.ping()
  }

  check(): void {
    const weStoppedReading = this.paused || this.pauses !== this.pausesAtPing
    if (this.pinged && !this.ponged && !weStoppedReading) {
      this.end({ code: CloseCode.InternalError, reason: "no pong within WS_PONG_TIMEOUT_MS", byPeer: false })
    }
  }

  failed(): void {
    this.end(internalError("the heartbeat threw"))
  }

  // --- Acquire and release, side by side ---

  // Acquired: the listeners. Finalizer: taken off again.
  private attachListeners(): void {
    const { listeners, ws } = this
    sessionOf.set(ws, this)
    ws.on("message", listeners.message)
    ws.on("close", listeners.close)
    ws.on("error", listeners.error)
    ws.on("pong", listeners.pong)
  }

  private detachListeners(): void {
    const { listeners, ws } = this
    ws.off("message", listeners.message)
    ws.off("close", listeners.close)
    ws.off("pong", listeners.pong)
    // ws emits `error` to a listener or throws it (an uncaught exception). After the session it
    // can still emit one: cutting a paused socket makes ws parse what was left in its buffer.
    // Nobody is left to act on it (ws closes the socket itself), so it is swallowed.
    ws.on("error", ignoreLateError)
    ws.off("error", listeners.error)
    sessionOf.delete(ws)
  }

  // Acquired: a place in the hub and in the heartbeat. Finalizer: given up.
  private register(): void {
    this.peers.register(this.sessionId, this)
    this.beats.add(this)
    WsMetrics.sessionOpened()
  }

  private unregister(): void {
    this.beats.remove(this)
    this.peers.unregister(this.sessionId)
    WsMetrics.sessionClosed()
  }

  // Acquired: the socket, handed to us open. Finalizer: given back closed. Interrupted before the
  // handshake, the close frame goes out and the socket is cut at once: a release never waits on
  // the peer.
  private releaseSocket(): void {
    const ws = this.ws
    this.quitting = true
    if (this.outcome === undefined) {
      if (ws.readyState === ws.OPEN) {
        try {
          ws.close(CloseCode.GoingAway, closeReason("server shutting down"))
          this.outcome = { code: CloseCode.GoingAway, reason: "session interrupted", byPeer: false }
        } catch {
          // Cut below all the same.
        }
      }
      // Interrupted during the handshake: our close frame (first.code) is already out.
      const { peerSent, quitWith, wsSent } = this
      this.outcome ??= quitWith !== undefined && !quitWith.byPeer
        ? { ...quitWith, code: wsSent ?? quitWith.code, reason: `${quitWith.reason} (interrupted in the close handshake)` }
        : { code: wsSent ?? peerSent ?? 1006, reason: "session interrupted", byPeer: peerSent !== undefined }
    }
    ws.terminate()
  }

  // Finalizer of the reader and writer forked while the session ran.
  private stopWorkers(): Effect.Effect<void> {
    const running = [this.reader, this.outbox.writer].filter((fiber) => fiber !== undefined)
    return running.length === 0 ? Effect.void : Fiber.interruptAll(running)
  }

  // Finalizer: the one log line, whatever ended the session (the last release step).
  private logClosed(): Effect.Effect<void> {
    return Effect.flatMap(Clock.currentTimeMillis, (closedAt) => {
      const ending = this.outcome ?? internalError("session ended before its socket was closed")
      return Effect.logInfo("ws session closed").pipe(
        Effect.annotateLogs({ sessionId: this.sessionId, durationMs: closedAt - this.openedAt, closeCode: ending.code, reason: ending.reason })
      )
    })
  }

  // Built when needed, not up front: an idle session holds only what it waits on.
  private use(): Effect.Effect<Ending> {
    return Effect.flatMap(this.awaitQuit(), (first) => {
      this.quitWith = first
      // Nothing more is read or written by the workers; what the handshake needs it does itself.
      const handshake = closeHandshake(this.ws, first, {
        wsSent: () => this.wsSent,
        peerSent: () => this.peerSent,
        resumeReading: () => this.resumeReading()
      })
      return Effect.zipRight(this.stopWorkers(), Effect.map(handshake, (ending) => (this.outcome = ending)))
    })
  }

  private release(): Effect.Effect<void> {
    return Effect.zipRight(
      Effect.suspend(() => this.stopWorkers()),
      Effect.suspend(() => {
        this.releaseSocket()
        this.unregister()
        this.detachListeners()
        return this.logClosed()
      })
    )
  }

  /**
   * Set up synchronously, then one acquireUseRelease. Runs synchronously inside ws's upgrade
   * callback (the hub's FiberSet runtime starts the session fiber at once, and nothing here
   * suspends): a frame sent in the same packet as the upgrade request is parsed only after it, so
   * it is neither lost nor an `error` event with no listener.
   */
  run(): Effect.Effect<Ending> {
    const acquire = Effect.map(Clock.currentTimeMillis, (now) => {
      this.openedAt = now
      this.attachListeners()
      this.register()
    })
    return Effect.acquireUseRelease(acquire, () => this.use(), () => this.release())
  }
}
