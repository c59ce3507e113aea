// The upstream feature as one layer: the outbound client (timeouts, retries, breaker) and GET /upstream.
// Remove the feature: delete src/upstream and test/upstream, and the lines naming
// UpstreamFeature in src/App.ts (its settings, UpstreamConfig.ts, go with the folder).
import { Effect, Layer } from "effect"
import { PublicRoutes } from "../http/public/PublicRoutes.js"
import * as Upstream from "./Upstream.js"
import * as UpstreamConfig from "./UpstreamConfig.js"
import { UpstreamGroup, UpstreamLive } from "./UpstreamApi.js"

/** The feature's settings, read with all the others in src/App.ts's one Config.all. */
export const config = UpstreamConfig.config

export const layer = Layer.effectDiscard(Effect.flatMap(PublicRoutes, (routes) => routes.addGroup(UpstreamGroup, UpstreamLive))).pipe(
  Layer.provideMerge(Upstream.layer),
  Layer.provide(UpstreamConfig.layer)
)
