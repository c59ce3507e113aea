// The upstream feature's route: GET /upstream, declared with HttpApi and handled here.
// UpstreamFeature.ts exports the group and its handlers; src/App.ts adds them to the public API.
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Effect, Schema } from "effect"
import * as ApiGroup from "../http/public/ApiGroup.js"
import { BaseApi } from "../http/public/BaseApi.js"
import { onTheWire, status, Wire } from "../http/public/ApiErrors.js"
import { CircuitOpen } from "./CircuitBreaker.js"
import { Upstream } from "./Upstream.js"
import { UpstreamNotConfigured } from "./UpstreamBody.js"

// The wire errors (each {"error": "<tag>", "message"} with 503): UpstreamNotConfigured and
// CircuitOpen are the client's own classes; an UpstreamError (its cause stays here) is answered
// as UpstreamUnavailable.
export { CircuitOpen } from "./CircuitBreaker.js"
export { UpstreamNotConfigured } from "./UpstreamBody.js"

export class UpstreamUnavailable
  extends Schema.TaggedError<UpstreamUnavailable>()("UpstreamUnavailable", { message: Schema.String }, status(503))
{}

export class UpstreamGroup extends HttpApiGroup.make("upstream")
  .add(
    HttpApiEndpoint.get("get", "/upstream")
      .addSuccess(Schema.Struct({ upstream: Schema.Unknown }))
      .addError(onTheWire(UpstreamNotConfigured))
      .addError(onTheWire(CircuitOpen))
      .addError(onTheWire(UpstreamUnavailable))
      .addError(Wire.RequestTimeout)
      .annotate(OpenApi.Summary, "Call the upstream dependency and wrap its JSON")
      .annotate(
        OpenApi.Description,
        "GET UPSTREAM_URL with a timeout per attempt, retries with backoff and a circuit breaker. 503 `UpstreamNotConfigured` when UPSTREAM_URL is unset, `CircuitOpen` while the breaker is open, `UpstreamUnavailable` when the upstream failed after retries, `RequestTimeout` when the request's own timeout cut the call."
      )
  )
{}

/** The public API as far as this feature knows it; also what its typed client is made from. */
export class UpstreamApi extends BaseApi.add(UpstreamGroup) {}

export const UpstreamLive = ApiGroup.group(UpstreamApi, "upstream", (handlers) =>
  Effect.gen(function*() {
    const upstream = yield* Upstream
    return handlers.handle("get", () =>
      upstream.call("GET").pipe(
        // A client gone, a request timeout or the shutdown deadline: the call is cut, not awaited.
        Effect.onInterrupt(() => Effect.logInfo("upstream call interrupted")),
        Effect.map((body) => ({ upstream: body })),
        Effect.catchTag("UpstreamError", (error) => new UpstreamUnavailable({ message: error.message }))
      ))
  }))
