/**
 * The registry of live WebSocket sessions and the door they come in through.
 * Owns: the `ws` WebSocketServer (noServer: the public HTTP server hands it upgrades), the map
 *   of live sessions, and the FiberSet their fibers run in.
 * Does not own: the sockets' HTTP server, or any session's socket (each session closes its own).
 * Released when: its layer's scope closes, after the public server; by then the server's drain
 *   has told every session to go away (goAway), so the FiberSet finds nothing left to interrupt.
 */
import { Context, Duration, Effect, FiberSet, Layer, Option } from "effect"
import type * as Http from "node:http"
import type { Duplex } from "node:stream"
import { WebSocketServer } from "ws"
import { AppConfig } from "../config/AppConfig.js"
import type { Upgrades } from "../http/OwnedServer.js"
import * as Condition from "../lifecycle/Condition.js"
import { FiberRegistry } from "../lifecycle/FiberRegistry.js"
import { CloseCode, run, type SessionHandle } from "./Session.js"

export class Hub extends Context.Tag("app/Hub")<Hub, {
  readonly upgrades: Upgrades
  readonly size: () => number
  /** Queues `text` for every live session: O(sessions), never waits for a slow peer. */
  readonly broadcast: (text: string) => number
}>() {}

export const WS_PATH = "/ws"

export const make = Effect.gen(function*() {
  const config = yield* AppConfig
  const registry = yield* FiberRegistry
  const sessions = new Map<string, SessionHandle>()
  const allClosed = Condition.make(() => sessions.size === 0)
  const peers = {
    register: (id: string, handle: SessionHandle) => void sessions.set(id, handle),
    unregister: (id: string) => {
      sessions.delete(id)
      allClosed.check()
    },
    broadcast: (text: string) => {
      for (const handle of sessions.values()) handle.send(text)
      return sessions.size
    }
  }
  const wss = yield* Effect.acquireRelease(
    Effect.sync(() => new WebSocketServer({ noServer: true, maxPayload: config.wsMaxMessageBytes })),
    (wss) => Effect.async<void>((resume) => wss.close(() => resume(Effect.void)))
  )
  // owner: this layer's scope; a session fiber is started from the upgrade callback.
  const runSession = yield* FiberSet.makeRuntime<never>()

  const handle = (request: Http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(request.url ?? "/", "http://x").pathname !== WS_PATH) return false
    wss.handleUpgrade(request, socket, head, (ws) => {
      const id = crypto.randomUUID()
      runSession(run(id, ws, peers, config, registry).pipe(registry.track(`ws.session/${id}`, "ws")))
    })
    return true
  }

  const goAway = (within: Duration.Duration) =>
    Effect.gen(function*() {
      const count = sessions.size
      if (count === 0) return
      for (const session of sessions.values()) session.stop(CloseCode.GoingAway, "server shutting down")
      // Interruptible: this runs inside the server's release, and the wait must be cut at `within`.
      const answered = yield* Effect.timeoutOption(Effect.interruptible(allClosed.await), within)
      if (Option.isNone(answered)) {
        yield* Effect.logWarning("ws peers did not answer going-away; cutting them").pipe(
          Effect.annotateLogs({ sessions: sessions.size, of: count, waitedMs: Duration.toMillis(within) })
        )
        for (const session of sessions.values()) session.terminate()
      }
    })

  return Hub.of({ upgrades: { handle, goAway }, size: () => sessions.size, broadcast: peers.broadcast })
})

export const layer = Layer.scoped(Hub, make)
