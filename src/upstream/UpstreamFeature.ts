// The upstream feature: the outbound client with its timeouts, retries and breaker (`layer`), and
// GET /upstream (`Group`, `handlers`), which src/App.ts adds to the public API.
// Remove the feature: delete src/upstream and test/upstream, and the lines naming
// UpstreamFeature in src/App.ts (its UPSTREAM_* and BREAKER_* settings in AppConfig may go too).
import * as Upstream from "./Upstream.js"
import { UpstreamGroup, UpstreamLive } from "./UpstreamApi.js"

/** GET /upstream. */
export const Group = UpstreamGroup

/** The group's handlers; they need the client (`layer`). */
export const handlers = UpstreamLive

export const layer = Upstream.layer
