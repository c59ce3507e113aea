// The core routes and GET /ws, served as App.ts serves them (ApiLive provides WebSocketFeature.route):
// startServing's `api` for the tests that build the WebSocket feature.
import { Layer } from "effect"
import { CoreApiLive } from "../../src/http/public/CoreApi.js"
import * as WebSocketFeature from "../../src/websocket/WebSocketFeature.js"

export const wsServed = CoreApiLive.pipe(Layer.provide(WebSocketFeature.route))
