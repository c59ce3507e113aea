/**
 * The raw side of an upgrade request, for a route that hands it to a library speaking the
 * protocol itself (the WebSocket route gives it to `ws`, which keeps ping/pong, bufferedAmount
 * and maxPayload). Node announces an upgrade with its socket and the bytes read past the head;
 * the draining server records them here before it runs the app, so the request reaches its
 * route through the router like any other.
 * Owns: nothing; a record per upgrade request, gone with the request.
 * Does not own: the socket. Until a route takes it, the server does (it answers on it); once
 *   taken, whoever took it answers and closes it, and the server writes nothing (if the route's
 *   request then fails, RequestLifecycle closes the socket).
 */
import type { HttpServerRequest } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Option } from "effect"
import type * as Http from "node:http"
import type { Duplex } from "node:stream"

export interface RawUpgrade {
  readonly request: Http.IncomingMessage
  readonly socket: Duplex
  readonly head: Buffer
}

interface Pending extends RawUpgrade {
  taken: boolean
}

const pending = new WeakMap<Http.IncomingMessage, Pending>()

/** The server: `request` arrived as an upgrade on `socket`. */
export const offer = (request: Http.IncomingMessage, socket: Duplex, head: Buffer): void => {
  pending.set(request, { request, socket, head, taken: false })
}

/** The server: did a route take this upgrade (then it must write nothing on the socket)? */
export const wasTaken = (request: Http.IncomingMessage): boolean => pending.get(request)?.taken === true

/** The server: the socket `request` was offered with (undefined for a plain request). */
export const socketOf = (request: Http.IncomingMessage): Duplex | undefined => pending.get(request)?.socket

/** A route: the raw upgrade, once; None for a plain request or one already taken. */
export const take = (request: HttpServerRequest.HttpServerRequest): Option.Option<RawUpgrade> => {
  const upgrade = pending.get(NodeHttpServerRequest.toIncomingMessage(request))
  if (upgrade === undefined || upgrade.taken) return Option.none()
  upgrade.taken = true
  return Option.some({ request: upgrade.request, socket: upgrade.socket, head: upgrade.head })
}
