// The core groups every service has, declared and handled here: health and the sleep stand-in.
// Features declare their own groups in their folders (src/jobs/JobsApi.ts); src/App.ts adds all of
// them to BaseApi. The OpenAPI document (ApiDocument.ts) and the typed client
// (HttpApiClient.make(App.Api)) derive from the declarations: each endpoint declares a summary
// and the errors it can answer.
import { HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpServerResponse, OpenApi } from "@effect/platform"
import { Effect, Layer, Schema } from "effect"
import { Shutdown } from "../../lifecycle/Shutdown.js"
import { Draining, NotReady, Wire } from "./ApiErrors.js"
import * as ApiGroup from "./ApiGroup.js"
import { BaseApi } from "./BaseApi.js"
import { ReadinessChecks } from "./ReadinessChecks.js"

export const MAX_SLEEP_MS = 600_000

/** What "Try it out" sends: short enough to run for real. */
export const EXAMPLE_MS = 100

/** Strict: Schema.NumberFromString alone would accept " 5", "1e3" and "0x10". The query string
 * carries digits; the document says what they must be (an integer in 0..MAX_SLEEP_MS), which the
 * pattern (no sign) and the bound below enforce. */
export const SleepMs = Schema.String.pipe(
  Schema.pattern(/^(0|[1-9][0-9]*)$/, { message: () => "must be a non-negative integer" }),
  Schema.compose(Schema.NumberFromString),
  Schema.int(),
  Schema.lessThanOrEqualTo(MAX_SLEEP_MS, { message: () => `must be at most ${MAX_SLEEP_MS}` })
).annotations({
  jsonSchema: {
    type: "integer",
    minimum: 0,
    maximum: MAX_SLEEP_MS,
    description: "milliseconds to wait",
    examples: [EXAMPLE_MS]
  }
})

export class Health extends HttpApiGroup.make("health")
  .add(
    HttpApiEndpoint.get("healthz", "/healthz")
      .addSuccess(Schema.Struct({ status: Schema.Literal("ok") }))
      .annotate(OpenApi.Summary, "Liveness: 200 while the process can serve")
  )
  .add(
    HttpApiEndpoint.get("readyz", "/readyz")
      .addSuccess(Schema.Struct({ status: Schema.Literal("ready") }))
      .addError(Draining)
      .addError(NotReady)
      .annotate(OpenApi.Summary, "Readiness: 503 from the instant shutdown begins")
      .annotate(
        OpenApi.Description,
        "503 `{\"status\":\"draining\"}` once shutdown began, or `{\"status\":\"not ready\",\"reason\"}` while a feature cannot serve (its store is unreachable)."
      )
  )
{}

export class Work extends HttpApiGroup.make("work")
  .add(
    HttpApiEndpoint.get("sleep", "/sleep")
      .setUrlParams(Schema.Struct({ ms: SleepMs }))
      .addSuccess(Schema.Struct({ sleptMs: Schema.Number }))
      .addError(Wire.BadRequest)
      .addError(Wire.RequestTimeout)
      .annotate(OpenApi.Summary, "Wait ms milliseconds (a stand-in for slow work)")
      .annotate(
        OpenApi.Description,
        "Interruptible: a client that goes away or the shutdown deadline cuts it short. A wait longer than REQUEST_TIMEOUT_MS (30000 by default) is answered 503 `RequestTimeout`."
      )
  )
{}

/** GET /healthz's answer never changes: encoded once, not per probe (issue 21). A handler may
 * return a response; HttpApiBuilder then sends it as it is. The declared success schema above
 * still documents it, and test/http/PublicApi.test.ts decodes it with the typed client. */
const healthy = Effect.succeed(HttpServerResponse.unsafeJson({ status: "ok" }))

const HealthLive = ApiGroup.group(BaseApi.add(Health), "health", (handlers) =>
  Effect.gen(function*() {
    const shutdown = yield* Shutdown
    const readiness = yield* ReadinessChecks
    return handlers
      .handle("healthz", () => healthy)
      .handle("readyz", () => {
        if (shutdown.unsafeIsShuttingDown()) return Effect.fail(new Draining({ status: "draining" }))
        const reason = readiness.unsafeNotReady()
        return reason === undefined ? Effect.succeed({ status: "ready" as const }) : Effect.fail(new NotReady({ status: "not ready", reason }))
      })
  }))

const WorkLive = ApiGroup.group(BaseApi.add(Work), "work", (handlers) =>
  handlers.handle("sleep", ({ urlParams: { ms } }) =>
    Effect.sleep(ms).pipe(
      Effect.as({ sleptMs: ms }),
      // Interruption is not an error: observe it (this line proves the handler's finalizers ran).
      Effect.onInterrupt(() => Effect.logInfo("sleep interrupted").pipe(Effect.annotateLogs({ ms })))
    )))

/** The core groups' handlers, for HttpApiBuilder.api(App.Api). */
export const handlers = Layer.mergeAll(HealthLive, WorkLive)

/** The core groups alone (App.Api adds the features' groups): what the core's tests serve. */
export class CoreApi extends BaseApi.add(Health).add(Work) {}

/** CoreApi with its handlers, as HttpApiBuilder.serve takes it. */
export const CoreApiLive = HttpApiBuilder.api(CoreApi).pipe(Layer.provide(handlers))
