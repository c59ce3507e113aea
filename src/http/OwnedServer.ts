/**
 * @deprecated compatibility wrapper, removed once App.ts serves through DrainingServer.layer:
 * `make(options, app)` is `DrainingServer.make(options)` then `server.serve(app)` in the same
 * scope, returning the RunningServer shape App.ts and the tests use. The server itself (and its
 * drain) lives in src/http/server/ (start at DrainingServer.ts).
 * Owns: nothing of its own (the DrainingServer it makes is released with the caller's scope:
 *   serve's drain first, then the listener's backstop).
 */
import type { HttpApp } from "@effect/platform"
import { Effect } from "effect"
import * as DrainingServer from "./server/DrainingServer.js"

export { ServeError } from "./server/ServeError.js"
export { ACCEPT_DRAIN_MAX_MS, FRESH_SOCKET_GRACE_MS, GOING_AWAY_WAIT_MS, SLOW_HEADERS_GRACE_MS } from "./server/DrainPolicy.js"
export type { Upgrades } from "./server/NodeEvents.js"

export type ServerOptions = DrainingServer.LegacyOptions

export interface RunningServer {
  readonly name: string
  readonly host: string
  readonly port: number
  /** Fails if the listener breaks after it started: a fatal failure of this component. */
  readonly failure: Effect.Effect<never, DrainingServer.ServeError>
  /** requestFibers counts whole request fibers, response writing included (the leak check). */
  readonly stats: () => DrainingServer.Stats
}

export const make = <R>(options: ServerOptions, app: HttpApp.Default<never, R>) =>
  Effect.gen(function*() {
    const listener = yield* DrainingServer.make(options)
    yield* listener.server.serve(app)
    return { name: listener.name, host: listener.host, port: listener.port, failure: listener.failure, stats: listener.stats } satisfies RunningServer
  })
