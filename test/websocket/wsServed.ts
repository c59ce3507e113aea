// The core routes and GET /ws, served as App.ts serves them: startServing's `api`.
import { Layer } from "effect"
import * as Core from "../../src/http/public/CoreApi.js"
import * as WebSocketFeature from "../../src/websocket/WebSocketFeature.js"

export const wsServed = Core.CoreApiLive.pipe(Layer.provide(WebSocketFeature.route))
