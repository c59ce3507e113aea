// The upstream feature: the outbound client with its timeouts, retries and breaker (`layer`), and
// GET /upstream (`Group`, `handlers`), which src/App.ts adds to the public API. It calls out
// through the `HttpClient.HttpClient` its composition root provides; App.ts gives it
// `HttpClientLive` (node:http on a keep-alive agent), tests a scripted client or the same one.
// Remove the feature: delete src/upstream and test/upstream, and the lines naming
// UpstreamFeature in src/App.ts (its settings, UpstreamConfig.ts, go with the folder).
import { Layer } from "effect"
import * as Upstream from "./Upstream.js"
import * as UpstreamConfig from "./UpstreamConfig.js"
import { UpstreamGroup, UpstreamLive } from "./UpstreamApi.js"

export { HttpClientLive } from "./Upstream.js"

/** The feature's settings, read with all the others in src/App.ts's one Config.all. */
export const config = UpstreamConfig.config

/** GET /upstream. */
export const Group = UpstreamGroup

/** The group's handlers; they need the client (`layer`). */
export const handlers = UpstreamLive

/** The Upstream service; requires `HttpClient.HttpClient`. */
export const layer = Upstream.layer.pipe(Layer.provide(UpstreamConfig.layer))
