// The upstream feature as one layer: the outbound client (timeouts, retries, breaker) and GET /upstream.
// Remove the feature: delete src/upstream and test/upstream, and the two lines naming
// UpstreamFeature in src/App.ts (its UPSTREAM_* and BREAKER_* settings in AppConfig may go too).
import { Effect, Layer } from "effect"
import { PublicRoutes } from "../http/public/PublicRoutes.js"
import * as Upstream from "./Upstream.js"
import { UpstreamGroup, UpstreamLive } from "./UpstreamApi.js"

export const layer = Layer.effectDiscard(Effect.flatMap(PublicRoutes, (routes) => routes.addGroup(UpstreamGroup, UpstreamLive))).pipe(
  Layer.provideMerge(Upstream.layer)
)
