// The upstream feature as one layer: the outbound client (timeouts, retries, breaker) and GET /upstream.
// It calls out through the `HttpClient.HttpClient` its composition root provides; App.ts gives it
// `HttpClientLive` (node:http on a keep-alive agent), tests a scripted client or the same one.
// Remove the feature: delete src/upstream and test/upstream, and the two lines naming
// UpstreamFeature in src/App.ts (its UPSTREAM_* and BREAKER_* settings in AppConfig may go too).
import { Effect, Layer } from "effect"
import { PublicRoutes } from "../http/public/PublicRoutes.js"
import * as Upstream from "./Upstream.js"
import { UpstreamGroup, UpstreamLive } from "./UpstreamApi.js"

export { HttpClientLive } from "./Upstream.js"

/** GET /upstream and the Upstream service; requires `HttpClient.HttpClient`, AppConfig and PublicRoutes. */
export const layer = Layer.effectDiscard(Effect.flatMap(PublicRoutes, (routes) => routes.addGroup(UpstreamGroup, UpstreamLive))).pipe(
  Layer.provideMerge(Upstream.layer)
)
