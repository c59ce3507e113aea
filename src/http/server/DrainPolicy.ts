/**
 * The drain of one draining server, in phases, within the shutdown budget:
 *   drain-delay (still serving; responses carry Connection: close) -> close-listener (accept what
 *   the kernel already queued, close the listening socket, sweep idle sockets) -> drain (wait for
 *   in-flight requests and upgraded sockets) -> at the deadline interrupt what still runs (it
 *   answers 503, its finalizers run) -> destroy every socket left.
 * Owns: the timers of the sweep (fresh-socket and slow-headers timers, unref'd).
 * Does not own: the sockets or the fibers (Connections and the serve's FiberSet own them); the
 *   shutdown latch (it only reads it and records its phases).
 * Released when: it is the release (DrainingServer runs it when serve's scope closes).
 */
import { Duration, Effect, FiberSet, Option } from "effect"
import type * as Http from "node:http"
import * as Net from "node:net"
import type { FiberRegistry } from "../../lifecycle/FiberRegistry.js"
import type { Edge } from "../../lifecycle/NodeEdge.js"
import type { Shutdown } from "../../lifecycle/Shutdown.js"
import { FORCE_GRACE_MS } from "../../lifecycle/ShutdownRunner.js"
import { type Connection, type Connections, holdsWork, isIdle } from "./Connections.js"

/** A socket accepted this recently that has sent nothing yet is probably sending its first
 * request right now: at close-listener it gets the rest of this time before it counts as idle. */
export const FRESH_SOCKET_GRACE_MS = 250

/** A socket that has sent part of a request head, and no request yet, is not in-flight work. At
 * close-listener it gets this long (at most half the budget left) to finish its head and be
 * answered 503 + Connection: close; then it is closed. It never holds the drain to the deadline. */
export const SLOW_HEADERS_GRACE_MS = 1_000

/** The longest close-listener keeps accepting connections the kernel had already queued. */
export const ACCEPT_DRAIN_MAX_MS = 1_000

/** How long WebSocket peers get to answer a going-away close before they are cut. */
export const GOING_AWAY_WAIT_MS = 1_000

export interface DrainInput {
  readonly name: string
  readonly drainDelayMs: number
  readonly server: Http.Server
  readonly connections: Connections
  readonly requests: FiberSet.FiberSet
  readonly shutdown: Shutdown["Type"]
  readonly registry: FiberRegistry["Type"]
  readonly edge: Edge
  /** Whoever holds the upgraded sockets (DrainingServer.Options.goAway): told to go away while
   * the HTTP drain runs. */
  readonly goAway?: ((within: Duration.Duration) => Effect.Effect<void>) | undefined
}

export const drain = (input: DrainInput) => {
  const { connections, edge, shutdown } = input
  const owner = `http.${input.name}`
  const annotated = <A, E, X>(self: Effect.Effect<A, E, X>) => Effect.annotateLogs(self, { server: input.name })
  const phase = (name: string) => <A, E, X>(self: Effect.Effect<A, E, X>) => annotated(shutdown.phase(name)(self))
  const phaseWithin = (name: string, within: Duration.DurationInput) => <A, E, X>(self: Effect.Effect<A, E, X>) =>
    annotated(shutdown.phaseWithin(name, within)(self))

  const later = (where: string, ms: number, connection: Connection, callback: () => void) =>
    setTimeout(edge.guard(where, callback, () => connection.socket.destroy()), Math.max(0, ms)).unref()

  /**
   * What close-listener does with a socket that holds no work. Idle: closed (one that has sent
   * nothing yet and is fresh gets FRESH_SOCKET_GRACE_MS first: its request is probably on the
   * way). Part of a request head and no request yet: closed at `headsDueAt` unless it has become
   * work by then (its finished head was answered 503 + Connection: close, which closes it).
   */
  const sweep = (connection: Connection, headsDueAt: number): void => {
    if (holdsWork(connection)) return
    const now = performance.now()
    if (isIdle(connection)) {
      const young = connection.socket.bytesRead === 0 ? connection.acceptedAt + FRESH_SOCKET_GRACE_MS - now : 0
      if (young <= 0) return void connection.socket.destroy()
      return void later("fresh socket timer", young, connection, () => sweep(connection, headsDueAt))
    }
    if (now >= headsDueAt) return void connection.socket.destroy()
    later("slow headers timer", headsDueAt - now, connection, () => sweep(connection, headsDueAt))
  }

  // One turn of the event loop's poll phase (where Node accepts and reads).
  const pollPhase = Effect.async<void>((resume) => {
    const resumeNow = () => resume(Effect.void)
    setImmediate(edge.guard("poll phase", () => setImmediate(edge.guard("poll phase", resumeNow, resumeNow)), resumeNow))
  })

  const closeListener = Effect.gen(function*() {
    connections.stopAccepting()
    // Closing the listener makes the kernel reset every connection still in its accept queue,
    // and those clients cannot tell their request was never seen. Node accepts one queued
    // connection per event-loop turn, so let poll phases run while they still accept (at most
    // ACCEPT_DRAIN_MAX_MS); accepted now, their requests get 503 + Connection: close. Then one
    // more turn reads request bytes already sitting in socket buffers before anything counts
    // as idle (a new socket starts reading on the next poll).
    const drainStarted = performance.now()
    for (;;) {
      const before = connections.unsafeAcceptedTotal()
      yield* pollPhase
      if (connections.unsafeAcceptedTotal() === before || performance.now() - drainStarted > ACCEPT_DRAIN_MAX_MS) break
    }
    // Only the listening socket: http.Server.close() would also run Node's own idle sweep,
    // which cannot see request bytes still unread in socket buffers. Ours runs after one more
    // poll phase has read them (and Node keeps enforcing header timeouts meanwhile).
    Net.Server.prototype.close.call(input.server)
    yield* pollPhase
    const headsGraceMs = Math.min(SLOW_HEADERS_GRACE_MS, Duration.toMillis(yield* shutdown.remaining) / 2)
    const headsDueAt = performance.now() + headsGraceMs
    for (const connection of connections.all()) sweep(connection, headsDueAt)
  })

  const waitDrained = Effect.zipRight(connections.disconnected, FiberSet.awaitEmpty(input.requests))

  return Effect.gen(function*() {
    if (input.drainDelayMs > 0) {
      yield* phaseWithin("drain-delay", yield* shutdown.remaining)(Effect.sleep(Duration.millis(input.drainDelayMs)))
    }
    yield* phase("close-listener")(closeListener)
    const remaining = yield* shutdown.remaining
    const goingAway = input.goAway === undefined
      ? Effect.void
      : phase("ws-going-away")(input.goAway(Duration.min(remaining, Duration.millis(GOING_AWAY_WAIT_MS))))
    const [, drained] = yield* Effect.all([goingAway, phaseWithin("drain", remaining)(waitDrained)], { concurrency: 2 })
    const mine = (yield* input.registry.snapshot).filter((fiber) => fiber.owner === owner)
    // Exit 124 means work was cut: a request, or a session. A socket still sending its request
    // head, or lingering after its answer, is not work; it is simply closed below.
    const working = connections.all().filter(holdsWork)
    if (Option.isNone(drained) && (mine.length > 0 || working.length > 0)) {
      yield* shutdown.recordForced(`${input.name}: ${mine.length} requests, ${connections.size()} sockets at the deadline`)
      yield* phaseWithin("interrupt", FORCE_GRACE_MS / 2)(
        Effect.logWarning("deadline reached: interrupting requests still running").pipe(
          Effect.annotateLogs({ running: mine, sockets: connections.size() }),
          Effect.zipRight(FiberSet.clear(input.requests))
        )
      )
    }
    // The deadline is the backstop for every socket left. Then http.Server.close() clears
    // Node's connection-checking interval (the listener is closed).
    yield* Effect.sync(() => {
      for (const connection of connections.all()) connection.socket.destroy()
      input.server.close()
    })
  })
}
