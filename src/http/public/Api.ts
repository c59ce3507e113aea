// The public HTTP API's core, declared once: health and the sleep stand-in. Handlers live in
// PublicApp.ts; features declare their own groups in their folders (src/jobs/JobsApi.ts). The
// OpenAPI document (ApiDocument.ts) and the typed client (HttpApiClient.make(Api)) derive from
// the declarations: each endpoint declares a summary and the errors it can answer.
import { HttpApi, HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import * as ApiDocument from "./ApiDocument.js"
import { Draining, NotReady, Wire } from "./ApiErrors.js"

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

/** What every public route shares: the API's id, its errors and its document. Features add their
 * groups to it (see PublicRoutes); their handlers are built against `PublicApi.add(TheirGroup)`.
 * The errors here are the ones any request can meet whichever route it names (an unknown route,
 * a request-target that is not a URL, a body announced over 1 MiB, a defect): declared on the
 * API so the API encodes them for every request, core or feature. The document lists them once,
 * in its description, and on an operation only where the operation declares them (ApiDocument). */
export const PublicApi = HttpApi.make("public")
  .addError(Wire.BadRequest)
  .addError(Wire.NotFound)
  .addError(Wire.PayloadTooLarge)
  .addError(Wire.InternalServerError)
  .annotate(OpenApi.Title, "owned-service public API")
  .annotate(OpenApi.Version, "0.1.0")
  .annotate(OpenApi.Description, ApiDocument.anyRouteAnswers)

/** The routes every service has; the served API is this plus the groups features contribute. */
export class Api extends ApiDocument.documented(PublicApi.add(Health).add(Work)) {}
