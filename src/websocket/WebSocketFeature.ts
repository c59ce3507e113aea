// The WebSocket feature: the hub and its sessions (`layer`), and GET /ws (`route`), which
// src/App.ts serves beside the public API's handlers.
// Remove the feature: delete src/websocket and test/websocket, and the lines naming WebSocketFeature in
// src/App.ts (its settings, WebSocketConfig.ts, go with the folder). Without it an upgrade request gets 404.
import { HttpApiBuilder, HttpServerError, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Layer, Option } from "effect"
import { GoingAway } from "../http/public/GoingAway.js"
import * as Upgrade from "../http/server/Upgrade.js"
import * as Hub from "./Hub.js"
import * as WebSocketConfig from "./WebSocketConfig.js"
import * as WsMetrics from "./WsMetrics.js"

/** The feature's settings, read with all the others in src/App.ts's one Config.all. */
export const config = WebSocketConfig.config

/** GET /ws's handler: an upgrade the server offered is handed, raw, to the hub (which answers on
 * the socket itself: the server writes nothing once it is taken); a plain GET /ws is no route. */
export const upgrade = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const taken = Upgrade.take(request)
  if (Option.isNone(taken)) return yield* new HttpServerError.RouteNotFound({ request })
  const hub = yield* Hub.Hub
  const { head, request: raw, socket } = taken.value
  // The hub never throws here; a path it does not serve is destroyed rather than left hanging.
  if (!hub.upgrades.handle(raw, socket, head)) socket.destroy()
  return HttpServerResponse.empty()
})

/** GET /ws on the public API's router. */
export const route = HttpApiBuilder.Router.use((router) =>
  Effect.flatMap(Hub.Hub, (hub) => router.get(Hub.WS_PATH, Effect.provideService(upgrade, Hub.Hub, hub)))
)

/** The feature over a given hub layer (tests: Hub.layerWith an edge that throws on purpose): the
 * hub, and its sessions told to go away when the public listener closes. */
export const layerWith = <E, R>(hub: Layer.Layer<Hub.Hub, E, R>) =>
  Layer.effectDiscard(
    Effect.flatMap(Effect.all([GoingAway, Hub.Hub]), ([goingAway, hub]) => goingAway.add(hub.upgrades.goAway))
  ).pipe(Layer.provideMerge(hub), Layer.merge(WsMetrics.layer), Layer.provide(WebSocketConfig.layer))

export const layer = layerWith(Hub.layer)
