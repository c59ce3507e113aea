// GET /ws as a route: its handler takes the raw upgrade the server offered (Upgrade.offer) and
// hands request, socket and head to the hub; a GET /ws that is no upgrade is no route (404).
// The handler runs here under the platform's own Node request handler with a stub hub; the whole
// path through the draining server is tested end to end once that server offers upgrades.
import { HttpServerError, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Option } from "effect"
import * as Http from "node:http"
import * as Net from "node:net"
import type { Duplex } from "node:stream"
import * as Upgrade from "../../src/http/server/Upgrade.js"
import { Hub } from "../../src/websocket/Hub.js"
import * as WebSocketFeature from "../../src/websocket/WebSocketFeature.js"

/** Runs the route's handler on a node request to /ws; returns its exit and what the hub was given. */
const runRoute = (offered: boolean) =>
  Effect.gen(function*() {
    const handed: Array<{ request: Http.IncomingMessage; socket: Duplex; head: Buffer }> = []
    const hub = Hub.of({
      upgrades: {
        handle: (request, socket, head) => {
          handed.push({ request, socket, head })
          return true
        },
        goAway: () => Effect.void
      },
      size: Effect.sync(() => handed.length),
      broadcast: () => Effect.succeed(0)
    })
    const done = yield* Deferred.make<Exit.Exit<HttpServerResponse.HttpServerResponse, unknown>>()
    const app = Effect.flatMap(HttpServerRequest.HttpServerRequest, () =>
      Effect.exit(Effect.provideService(WebSocketFeature.upgrade, Hub, hub)).pipe(
        Effect.tap((exit) => Deferred.succeed(done, exit)),
        Effect.as(HttpServerResponse.empty())
      ))
    const handler = yield* NodeHttpServer.makeHandler(app)
    const socket = new Net.Socket()
    const request = new Http.IncomingMessage(socket)
    request.method = "GET"
    request.url = "/ws"
    const head = Buffer.from("early bytes")
    if (offered) Upgrade.offer(request, socket, head)
    handler(request, new Http.ServerResponse(request))
    const exit = yield* Deferred.await(done)
    socket.destroy()
    return { exit, handed, request, socket, head }
  }).pipe(Effect.scoped)

describe("GET /ws (WebSocketFeature.upgrade)", () => {
  it.live("an offered upgrade is taken once and handed, raw, to the hub", () =>
    Effect.gen(function*() {
      const { exit, handed, head, request, socket } = yield* runRoute(true)
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(handed).toHaveLength(1)
      expect(handed[0]!.request).toBe(request)
      expect(handed[0]!.socket).toBe(socket)
      expect(handed[0]!.head).toBe(head)
      // Taken: the server must write nothing on that socket.
      expect(Upgrade.wasTaken(request)).toBe(true)
    }))

  it.live("a plain GET /ws (no upgrade offered) is no route: RouteNotFound, the hub is not asked", () =>
    Effect.gen(function*() {
      const { exit, handed, request } = yield* runRoute(false)
      const failure = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
      expect(failure).toBeInstanceOf(HttpServerError.RouteNotFound)
      expect(handed).toHaveLength(0)
      expect(Upgrade.wasTaken(request)).toBe(false)
    }))
})
