/**
 * The registry of live WebSocket sessions and the door they come in through.
 * Owns: the `ws` WebSocketServer (noServer: the public HTTP server hands it upgrades; made on the
 *   first one), the map
 *   of live sessions, the FiberSet their fibers run in, and the heartbeat they share (one loop
 *   and one timer for all sessions).
 *   With REDIS_URL, also the broadcast link to the other replicas (RedisBroadcast): a broadcast
 *   is delivered here and published; what other replicas publish is delivered here.
 * Does not own: the sockets' HTTP server, or any session's socket (each session closes its own).
 * Released when: its layer's scope closes, after the public server; by then the server's drain
 *   has told every session to go away (goAway, bounded by its `within`), so the FiberSet usually
 *   finds nothing left to interrupt. What it does find is interrupted, and a session's finalizers
 *   send their close frame and cut the socket at once: the release never waits on a peer.
 *   The Redis link is released last (bounded: QUIT, then disconnect after ~1 s).
 * `handle` never throws (it runs inside the server's `upgrade` listener), and the callbacks it
 * hands to ws go through the edge's guard: a throw there costs one connection.
 */
import { Context, Duration, Effect, FiberSet, Layer, Option } from "effect"
import type * as Http from "node:http"
import type { Duplex } from "node:stream"
import { type WebSocket, WebSocketServer } from "ws"
import { reveal } from "../config/env.js"
import { WebSocketConfig } from "./WebSocketConfig.js"
import { FiberRegistry } from "../lifecycle/FiberRegistry.js"
import * as NodeEdge from "../lifecycle/NodeEdge.js"
import * as Heartbeat from "./Heartbeat.js"
import * as RedisBroadcast from "./RedisBroadcast.js"
import * as Session from "./Session.js"
import { CloseCode, type Peers, type SessionHandle } from "./Session.js"

/** The hub's door: GET /ws's route hands it each upgrade it takes (WebSocketFeature.upgrade), and
 * the public server's drain tells its sessions to go away (DrainingServer.Options.goAway). */
export interface Upgrades {
  /** Takes the upgrade if it serves this path (never throws); false: the caller closes the socket. */
  readonly handle: (request: Http.IncomingMessage, socket: Duplex, head: Buffer) => boolean
  /** Tells every session to go away and waits for them at most `within`, then cuts the rest. */
  readonly goAway: (within: Duration.Duration) => Effect.Effect<void>
}

export class Hub extends Context.Tag("app/Hub")<Hub, {
  /** `handle(request, socket, head)` for one upgrade (never throws), `goAway(within)` for the drain. */
  readonly upgrades: Upgrades
  /** Live sessions. */
  readonly size: Effect.Effect<number>
  /** Queues `text` for every live session, waiting for room where an outbox is full. */
  readonly broadcast: (text: string) => Effect.Effect<number>
}>() {}

export const WS_PATH = "/ws"

/** The path of a request-target, or undefined when it is not a URL at all (never throws). */
const pathOf = (target: string | undefined): string | undefined => {
  try {
    return new URL(target ?? "/", "http://x").pathname
  } catch {
    return undefined
  }
}

/** A session's id as one flat string. crypto.randomUUID() joins its 20 hex pieces with `+`: a tree
 * of about 15 cons strings that every session would hold (in the hub's map, its beat and its log
 * annotations) for its whole life; copied once, it is one 36-byte string (issue 21). */
const sessionId = () => Buffer.from(crypto.randomUUID(), "latin1").toString("latin1")

/** `edge` is where Node's callbacks are guarded; tests pass one that throws on purpose. */
export const makeWith = (edge: NodeEdge.Edge) =>
  Effect.gen(function*() {
    const config = yield* WebSocketConfig
    const registry = yield* FiberRegistry
    const sessions = new Map<string, SessionHandle>()
    // O(sessions) without waiting while every outbox has room; where one is full, the sender
    // waits for room there (all full ones at once), so its next message keeps the order.
    const localBroadcast = (text: string): Effect.Effect<number> =>
      Effect.suspend(() => {
        const reached = sessions.size
        const full: Array<SessionHandle> = []
        for (const session of sessions.values()) if (!session.offer(text)) full.push(session)
        return full.length === 0
          ? Effect.succeed(reached)
          : Effect.as(Effect.forEach(full, (session) => session.send(text), { concurrency: "unbounded", discard: true }), reached)
      })
    // Acquired before the server's socket and the sessions' FiberSet, so released after them: by
    // then the sessions have gone away and nothing publishes any more.
    const redisUrl = reveal(config.redisUrl)
    const link = redisUrl === undefined ? undefined : yield* RedisBroadcast.make(redisUrl, edge, localBroadcast)
    const peers: Peers = {
      register: (id, handle) => void sessions.set(id, handle),
      unregister: (id) => void sessions.delete(id),
      // Published first (never waits), then delivered here: a slow local outbox does not delay
      // the other replicas, and this replica's own sessions get it once, even while Redis is down.
      broadcast: link === undefined ? localBroadcast : (text) =>
        Effect.suspend(() => {
          link.publish(text)
          return localBroadcast(text)
        })
    }
    // Made on the first upgrade, not here: `ws` is a lazy chunk (scripts/build.mjs) that starting
    // would otherwise evaluate, with its builtins, for a service that may never see an upgrade
    // (issue 21). Released at the same place in the order as if made here; never made, nothing to close.
    let wss: WebSocketServer | undefined
    const server = () => wss ??= new WebSocketServer({ noServer: true, maxPayload: config.wsMaxMessageBytes })
    yield* Effect.addFinalizer(() =>
      wss === undefined ? Effect.void : Effect.async<void>((resume) => wss!.close(() => resume(Effect.void)))
    )
    // One loop pings every session; forked in this layer's scope.
    const heartbeat = yield* Heartbeat.make(config)
    // A session's fiber lives here from the upgrade callback to its end: goAway waits for the set
    // to empty, the layer's release interrupts what is left.
    const sessionFibers = yield* FiberSet.make<Session.Ending>()
    const runSession = yield* FiberSet.runtime(sessionFibers)<never>() // owner: this layer's scope (FiberSet)

    // A session that could not start is cut (no session exists yet to close it with 1011).
    const upgraded = edge.guard("ws upgraded", (ws: WebSocket) => {
      const id = sessionId()
      const fiber = runSession(Session.run(id, ws, peers, config, registry, edge, heartbeat))
      // Listed from here to its exit observer, as request fibers are (not registry.track: its
      // uninterruptible and ensuring frames would sit on every idle session's stack, issue 21).
      fiber.addObserver(registry.unsafeTrack(fiber, `ws.session/${id}`, "ws"))
    }, (_thrown, ws) => ws.terminate())
    const upgrade = edge.guard("ws upgrade", (request: Http.IncomingMessage, socket: Duplex, head: Buffer) => {
      server().handleUpgrade(request, socket, head, upgraded)
    }, (_thrown, _request, socket) => socket.destroy())

    // Called from the server's `upgrade` listener: it must never throw. A target that is not a
    // URL is not ours (the server answers it).
    const handle = (request: Http.IncomingMessage, socket: Duplex, head: Buffer) => {
      if (pathOf(request.url) !== WS_PATH) return false
      upgrade(request, socket, head)
      return true
    }

    // Bounded by `within` whatever the peers do: sessions that have not ended by then are cut
    // (terminate), which ends their handshake's wait at once.
    const goAway = Effect.fn("Hub.goAway")(function*(within: Duration.Duration) {
      const count = sessions.size
      if (count === 0) return
      for (const session of sessions.values()) session.stop(CloseCode.GoingAway, "server shutting down")
      // Interruptible: this runs inside the server's release, and the wait must be cut at `within`.
      const answered = yield* Effect.timeoutOption(Effect.interruptible(FiberSet.awaitEmpty(sessionFibers)), within)
      if (Option.isNone(answered)) {
        yield* Effect.logWarning("ws peers did not answer going-away; cutting them").pipe(
          Effect.annotateLogs({ sessions: sessions.size, of: count, waitedMs: Duration.toMillis(within) })
        )
        for (const session of sessions.values()) session.terminate()
      }
    })

    const broadcast = Effect.fn("Hub.broadcast")(function*(text: string) {
      return yield* peers.broadcast(text)
    })

    return Hub.of({ upgrades: { handle, goAway }, size: Effect.sync(() => sessions.size), broadcast })
  })

export const make = Effect.flatMap(NodeEdge.make, makeWith)

export const layer = Layer.scoped(Hub, make)

/** The hub with a given edge (tests: one whose guards throw on purpose). */
export const layerWith = (edge: NodeEdge.Edge) => Layer.scoped(Hub, makeWith(edge))
