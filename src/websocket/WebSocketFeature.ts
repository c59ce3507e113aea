// The WebSocket feature as one layer: the hub and its sessions, taking upgrades on the public port.
// Remove the feature: delete src/websocket and test/websocket, and the two lines naming WebSocketFeature in
// src/App.ts (its WS_* settings in AppConfig may go too). Without it an upgrade request gets 404.
import { Effect, Layer } from "effect"
import { PublicRoutes } from "../http/public/PublicRoutes.js"
import * as Hub from "./Hub.js"
import * as WsMetrics from "./WsMetrics.js"

/** The feature over a given hub layer (tests: Hub.layerWith an edge that throws on purpose). */
export const layerWith = <E, R>(hub: Layer.Layer<Hub.Hub, E, R>) =>
  Layer.effectDiscard(
    Effect.flatMap(Effect.all([PublicRoutes, Hub.Hub]), ([routes, hub]) => routes.addUpgrades(hub.upgrades))
  ).pipe(Layer.provideMerge(hub), Layer.merge(WsMetrics.layer))

export const layer = layerWith(Hub.layer)
