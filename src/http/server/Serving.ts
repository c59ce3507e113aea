/**
 * What `serve(app)` attaches to a draining server: the app wrapped in the request lifecycle
 * (RequestLifecycle.ts), run for each request Node announces and for each WebSocket handshake.
 * An upgrade request is offered first (Upgrade.offer): if a route takes it, the route answers on
 * the socket and nothing is written here; otherwise the app's answer (a 404, say) is written on
 * the socket through a node response assigned to it, and the socket is closed after.
 * Owns: nothing beyond the per-request node objects it creates for upgrades.
 * Does not own: the request fibers (the FiberSet it is given: serve's scope owns it).
 */
import { type HttpApp, HttpMiddleware, HttpServerRequest } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Effect, type FiberSet } from "effect"
import * as Http from "node:http"
import type * as Net from "node:net"
import type { Duplex } from "node:stream"
import type { FiberRegistry } from "../../lifecycle/FiberRegistry.js"
import type { Edge } from "../../lifecycle/NodeEdge.js"
import type { Shutdown } from "../../lifecycle/Shutdown.js"
import { serverSpanFor, withRequestLifecycle } from "../RequestLifecycle.js"
import type { Connection } from "./Connections.js"
import type { Serving } from "./NodeEvents.js"
import * as RequestHandler from "./RequestHandler.js"
import * as Upgrade from "./Upgrade.js"

export interface ServingInput {
  readonly name: string
  readonly requestTimeoutMs: number
  readonly requests: FiberSet.FiberSet
  readonly registry: FiberRegistry["Type"]
  readonly shutdown: Shutdown["Type"]
  readonly edge: Edge
}

/** The socket listeners an upgrade request's answer put on its socket, to take off once a route
 * took the socket: left on, they would hold the request and its answer for the whole session
 * (~8 KB per WebSocket, issue 21). */
const detachers = new WeakMap<Http.IncomingMessage, () => void>()

/** After the app answered an upgrade request: nothing to write if a route took it (an ended,
 * socketless response writes nothing), else the answer goes on the socket. */
const settleUpgrade = Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
  const nodeRequest = NodeHttpServerRequest.toIncomingMessage(request)
  const response = NodeHttpServerRequest.toServerResponse(request)
  if (Upgrade.wasTaken(nodeRequest)) {
    detachers.get(nodeRequest)?.()
    return void response.end()
  }
  const socket = Upgrade.socketOf(nodeRequest)
  if (socket !== undefined && !socket.destroyed) response.assignSocket(socket as Net.Socket)
})

export const make = (app: HttpApp.Default<unknown>, middleware: HttpMiddleware.HttpMiddleware | undefined, input: ServingInput) =>
  Effect.gen(function*() {
    const routed = middleware === undefined ? app : middleware(app)
    const lifecycled = withRequestLifecycle(routed, {
      owner: `http.${input.name}`,
      timeoutMs: input.requestTimeoutMs,
      requests: input.requests,
      registry: input.registry,
      shutdown: input.shutdown,
      edge: input.edge
    })
    // Not platform-node's makeHandler: RequestHandler runs the app without the per-request
    // wrapping (issue 21), and without the platform's server span (one attribute per request
    // header, a URL parsed per request): withRequestLifecycle opens a lean one of its own.
    // Each request's context is built once, with the server span and the route the app asks for.
    const prepares = [serverSpanFor, RequestHandler.preparerOf(app)]
    const request = yield* RequestHandler.make(lifecycled, prepares)
    const upgradeHandler = yield* RequestHandler.make(Effect.tap(lifecycled, () => settleUpgrade), prepares)
    const { edge } = input
    const upgrade = (nodeRequest: Http.IncomingMessage, socket: Duplex, head: Buffer, connection: Connection | undefined) => {
      Upgrade.offer(nodeRequest, socket, head)
      const response = new Http.ServerResponse(nodeRequest)
      // An answer written here closes the socket; a taken socket belongs to its route.
      response.once("finish", edge.guard("upgrade answer finish", () => {
        if (connection !== undefined) connection.upgraded = false
        socket.end()
      }, () => socket.destroy()))
      // The client gone before the answer: close the response, which interrupts the fiber.
      const closed = edge.guard("upgrade socket close", () => {
        if (response.writableEnded) return
        response.destroy()
        response.emit("close")
      })
      socket.once("close", closed)
      detachers.set(nodeRequest, () => socket.off("close", closed))
      upgradeHandler(nodeRequest, response)
    }
    return { request, upgrade } satisfies Serving
  })
