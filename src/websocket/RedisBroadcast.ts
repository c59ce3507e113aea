/**
 * Broadcast across replicas: one ioredis publisher and one subscriber on the channel
 * `owned-service:ws:broadcast`, carrying envelopes `{"origin": replicaId, "text": frame}`.
 * Owns: the two connections, their listeners, the inbox of frames received from other replicas,
 *   and one fiber (the deliverer) that hands them, in order, to the hub's local broadcast.
 * Does not own: the sessions (the hub's), nor the frames' meaning (text is the exact frame).
 * Released when: the hub's layer closes, after the public server's drain has sent every session
 *   away. Release is bounded: QUIT on both (at most RELEASE_QUIT_MS), then disconnect; it never
 *   waits on a peer longer than that.
 *
 * Promise: at-most-once across replicas, per-publisher order (one publisher connection, one
 * deliverer). While Redis is unreachable a publish fails at once (no offline queue, no retry) and
 * is counted in ws_broadcast_dropped_total; local delivery never depends on Redis. Both clients
 * reconnect with capped backoff; "broadcast link down" (warn, once per outage, the error's message
 * only: never the URL) and "broadcast link up" (info) say when. A Redis unreachable at startup
 * does not stop startup. Every ioredis listener goes through the edge's guard, and 'error' always
 * has one (an EventEmitter 'error' without a listener would throw in Node).
 */
import { Deferred, Effect, Exit, Queue, Runtime, type Scope } from "effect"
import { Redis } from "ioredis"
import type { Edge } from "../lifecycle/NodeEdge.js"
import * as WsMetrics from "./WsMetrics.js"

export const CHANNEL = "owned-service:ws:broadcast"
/** How long release waits for QUIT before cutting the connections. */
export const RELEASE_QUIT_MS = 1_000
/** How long startup waits for the link before going on without it (it keeps reconnecting). */
export const STARTUP_WAIT_MS = 1_000
/** Frames from other replicas waiting for local delivery; past this they are dropped and counted. */
export const INBOX_CAPACITY = 4_096

/** Capped exponential backoff: 100, 200, 400, ... ms, at most 2 s; never gives up. */
export const retryDelay = (attempt: number): number => Math.min(100 * 2 ** Math.max(0, attempt - 1), 2_000)

export interface Link {
  readonly replicaId: string
  /** Publishes a frame for the other replicas; never waits, never fails (a drop is counted). */
  readonly publish: (text: string) => void
}

/** Parses an envelope; undefined when it is not `{origin: string, text: string}`. */
export const parseEnvelope = (message: string): { readonly origin: string; readonly text: string } | undefined => {
  try {
    const value: unknown = JSON.parse(message)
    if (typeof value !== "object" || value === null) return undefined
    const { origin, text } = value as Record<string, unknown>
    return typeof origin === "string" && typeof text === "string" ? { origin, text } : undefined
  } catch {
    return undefined
  }
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/**
 * The link for `url`; `deliver` is the hub's local broadcast (backpressure rules unchanged).
 * Never fails: a Redis that does not answer leaves the link down and reconnecting.
 */
export const make = (
  url: URL,
  edge: Edge,
  deliver: (text: string) => Effect.Effect<unknown>
): Effect.Effect<Link, never, Scope.Scope> =>
  Effect.gen(function*() {
    const runtime = yield* Effect.runtime<never>()
    // owner: the ioredis listener that calls `log`. Each run is one synchronous log line inside
    // that callback, finished before it returns: no fiber outlives it.
    const runSync = Runtime.runSync(runtime) // owner: the ioredis listener calling `log`
    const log = (effect: Effect.Effect<void>) => {
      try {
        runSync(effect) // owner: this ioredis listener; synchronous, done before it returns
      } catch {
        // The logger failed: nowhere left to report it, and a listener must not throw.
      }
    }
    const replicaId = crypto.randomUUID()
    WsMetrics.broadcastDroppedRegister()

    // owner: the deliverer fiber below; fed synchronously by the subscriber's 'message' listener.
    const inbox = yield* Queue.dropping<string>(INBOX_CAPACITY)
    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(inbox), deliver)))

    let closing = false
    let state: "starting" | "up" | "down" = "starting"
    let publisherReady = false
    let subscribed = false
    // Resolved the first time the link is up: startup waits for it (bounded).
    const firstUp = yield* Deferred.make<void>()

    const markUp = () => {
      if (closing || !publisherReady || !subscribed || state === "up") return
      state = "up"
      log(Effect.logInfo("broadcast link up").pipe(Effect.annotateLogs({ channel: CHANNEL })))
      Deferred.unsafeDone(firstUp, Exit.void)
    }
    const markDown = (reason: string) => {
      if (closing || state === "down") return
      state = "down"
      log(Effect.logWarning("broadcast link down").pipe(Effect.annotateLogs({ error: reason, channel: CHANNEL })))
    }

    const options = {
      lazyConnect: true,
      retryStrategy: retryDelay,
      connectTimeout: 2_000
    }
    // The URL is read here only: ioredis keeps it, and nothing we log carries it.
    const publisher = new Redis(url.toString(), {
      ...options,
      connectionName: "owned-service-ws-publisher",
      // A publish while down fails at once: no offline queue, no retry of a sent command.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0
    })
    const subscriber = new Redis(url.toString(), {
      ...options,
      connectionName: "owned-service-ws-subscriber",
      // Subscribed explicitly on every 'ready' (below), so a reconnect always resubscribes, even
      // when the first SUBSCRIBE never got an answer; ioredis' own resubscribe would double it.
      autoResubscribe: false,
      maxRetriesPerRequest: null
    })

    const lost = (setFlag: () => void) => (reason: string) => {
      setFlag()
      markDown(reason)
    }
    const publisherLost = lost(() => void (publisherReady = false))
    const subscriberLost = lost(() => void (subscribed = false))

    publisher.on("error", edge.guard("broadcast publisher error", (error: unknown) => publisherLost(messageOf(error))))
    publisher.on("close", edge.guard("broadcast publisher close", () => publisherLost("connection closed")))
    publisher.on("end", edge.guard("broadcast publisher end", () => publisherLost("connection ended")))
    publisher.on("ready", edge.guard("broadcast publisher ready", () => {
      publisherReady = true
      markUp()
    }))

    subscriber.on("error", edge.guard("broadcast subscriber error", (error: unknown) => subscriberLost(messageOf(error))))
    subscriber.on("close", edge.guard("broadcast subscriber close", () => subscriberLost("connection closed")))
    subscriber.on("end", edge.guard("broadcast subscriber end", () => subscriberLost("connection ended")))
    const onSubscribed = edge.guard("broadcast subscribed", () => {
      // A SUBSCRIBE answered on a connection that has since dropped does not count.
      if (subscriber.status !== "ready") return
      subscribed = true
      markUp()
    })
    const onSubscribeFailed = edge.guard("broadcast subscribe failed", (error: unknown) => subscriberLost(messageOf(error)))
    subscriber.on("ready", edge.guard("broadcast subscriber ready", () => {
      subscriber.subscribe(CHANNEL).then(onSubscribed, onSubscribeFailed)
    }))
    subscriber.on("message", edge.guard("broadcast message", (channel: string, message: string) => {
      if (channel !== CHANNEL) return
      const envelope = parseEnvelope(message)
      if (envelope === undefined) {
        edge.clientError("broadcast envelope", "invalid broadcast envelope ignored", { channel, bytes: message.length })
        return
      }
      if (envelope.origin === replicaId) return
      if (!Queue.unsafeOffer(inbox, envelope.text)) WsMetrics.broadcastDropped()
    }))

    const dropped = edge.guard("broadcast publish failed", (_error: unknown) => WsMetrics.broadcastDropped())
    const publish = (text: string) => {
      if (closing) return WsMetrics.broadcastDropped()
      publisher.publish(CHANNEL, JSON.stringify({ origin: replicaId, text })).then(undefined, dropped)
    }

    yield* Effect.addFinalizer(() =>
      Effect.async<void>((resume) => {
        closing = true
        let done = false
        const finish = () => {
          if (done) return
          done = true
          clearTimeout(timer)
          publisher.disconnect()
          subscriber.disconnect()
          resume(Effect.void)
        }
        const timer = setTimeout(edge.guard("broadcast quit timeout", finish), RELEASE_QUIT_MS)
        const quit = (client: Redis) =>
          client.status === "ready" ? client.quit().then(() => undefined, () => undefined) : Promise.resolve()
        Promise.all([quit(publisher), quit(subscriber)]).then(edge.guard("broadcast quit", finish))
      })
    )

    // Connect in the layer; a failure here is a link down, logged by the listeners, and ioredis
    // goes on reconnecting (retryStrategy). Startup waits a little for the link, never fails.
    const connectFailed = edge.guard("broadcast connect", (_error: unknown) => undefined)
    publisher.connect().then(undefined, connectFailed)
    subscriber.connect().then(undefined, connectFailed)
    yield* Deferred.await(firstUp).pipe(Effect.timeoutOption(STARTUP_WAIT_MS))

    return { replicaId, publish } satisfies Link
  })
