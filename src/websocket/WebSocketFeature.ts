// The WebSocket feature as one layer: the hub and its sessions, taking upgrades on the public port.
// Remove the feature: delete src/websocket and test/websocket, and the lines naming WebSocketFeature in
// src/App.ts (its settings, WebSocketConfig.ts, go with the folder). Without it an upgrade request gets 404.
import { Effect, Layer } from "effect"
import { PublicRoutes } from "../http/public/PublicRoutes.js"
import * as Hub from "./Hub.js"
import * as WebSocketConfig from "./WebSocketConfig.js"
import * as WsMetrics from "./WsMetrics.js"

/** The feature's settings, read with all the others in src/App.ts's one Config.all. */
export const config = WebSocketConfig.config

/** The feature over a given hub layer (tests: Hub.layerWith an edge that throws on purpose). */
export const layerWith = <E, R>(hub: Layer.Layer<Hub.Hub, E, R>) =>
  Layer.effectDiscard(
    Effect.flatMap(Effect.all([PublicRoutes, Hub.Hub]), ([routes, hub]) => routes.addUpgrades(hub.upgrades))
  ).pipe(Layer.provideMerge(hub), Layer.merge(WsMetrics.layer), Layer.provide(WebSocketConfig.layer))

export const layer = layerWith(Hub.layer)
