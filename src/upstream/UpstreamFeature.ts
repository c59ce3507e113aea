// The upstream feature as one layer: the outbound client (timeouts, retries, breaker) and GET /upstream.
// It calls out through the `HttpClient.HttpClient` its composition root provides; App.ts gives it
// `HttpClientLive` (node:http on a keep-alive agent), tests a scripted client or the same one.
// Remove the feature: delete src/upstream and test/upstream, and the lines naming
// UpstreamFeature in src/App.ts (its settings, UpstreamConfig.ts, go with the folder).
import { Effect, Layer } from "effect"
import { PublicRoutes } from "../http/public/PublicRoutes.js"
import * as Upstream from "./Upstream.js"
import * as UpstreamConfig from "./UpstreamConfig.js"
import { UpstreamGroup, UpstreamLive } from "./UpstreamApi.js"

export { HttpClientLive } from "./Upstream.js"

/** The feature's settings, read with all the others in src/App.ts's one Config.all. */
export const config = UpstreamConfig.config

/** GET /upstream and the Upstream service; requires `HttpClient.HttpClient` and PublicRoutes. */
export const layer = Layer.effectDiscard(Effect.flatMap(PublicRoutes, (routes) => routes.addGroup(UpstreamGroup, UpstreamLive))).pipe(
  Layer.provideMerge(Upstream.layer),
  Layer.provide(UpstreamConfig.layer)
)
