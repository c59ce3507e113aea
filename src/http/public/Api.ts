// The public HTTP API's core, declared once: health and the sleep stand-in. Handlers live in
// PublicApp.ts; features declare their own groups in their folders (src/jobs/JobsApi.ts). The
// OpenAPI document and the typed client (HttpApiClient.make(Api)) derive from the declarations.
import { HttpApi, HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { BadRequest, Draining, InternalServerError, NotFound, NotReady, onTheWire, PayloadTooLarge } from "./ApiErrors.js"

export const MAX_SLEEP_MS = 600_000

/** Strict: Schema.NumberFromString alone would accept " 5", "1e3" and "0x10". */
export const SleepMs = Schema.String.pipe(
  Schema.pattern(/^(0|[1-9][0-9]*)$/, { message: () => "must be a non-negative integer" }),
  Schema.compose(Schema.NumberFromString),
  Schema.int(),
  Schema.lessThanOrEqualTo(MAX_SLEEP_MS, { message: () => `must be at most ${MAX_SLEEP_MS}` })
)

export class Health extends HttpApiGroup.make("health")
  .add(HttpApiEndpoint.get("healthz", "/healthz").addSuccess(Schema.Struct({ status: Schema.Literal("ok") })))
  .add(
    HttpApiEndpoint.get("readyz", "/readyz")
      .addSuccess(Schema.Struct({ status: Schema.Literal("ready") }))
      .addError(Draining)
      .addError(NotReady)
  )
{}

export class Work extends HttpApiGroup.make("work")
  .add(
    HttpApiEndpoint.get("sleep", "/sleep")
      .setUrlParams(Schema.Struct({ ms: SleepMs }))
      .addSuccess(Schema.Struct({ sleptMs: Schema.Number }))
  )
{}

/** What every public route shares: the API's id, its errors and its document. Features add their
 * groups to it (see PublicRoutes); their handlers are built against `PublicApi.add(TheirGroup)`. */
export const PublicApi = HttpApi.make("public")
  .addError(onTheWire(BadRequest, 400))
  .addError(onTheWire(NotFound, 404))
  .addError(onTheWire(PayloadTooLarge, 413))
  .addError(onTheWire(InternalServerError, 500))
  .annotate(OpenApi.Title, "owned-service public API")
  .annotate(OpenApi.Version, "0.1.0")
  .annotate(OpenApi.Transform, withoutDefaultDecodeError)

/** The routes every service has; the served API is this plus the groups features contribute. */
export class Api extends PublicApi.add(Health).add(Work) {}

// HttpApi.make always declares HttpApiDecodeError; we answer BadRequest instead (PublicApp's
// middleware rewrites it), so the document must not promise the default shape.
function withoutDefaultDecodeError(spec: Record<string, any>): Record<string, any> {
  const copy = structuredClone(spec)
  for (const name of ["HttpApiDecodeError", "Issue", "PropertyKey"]) delete copy.components?.schemas?.[name]
  for (const path of Object.values<any>(copy.paths ?? {})) {
    for (const operation of Object.values<any>(path)) {
      const content = operation?.responses?.["400"]?.content?.["application/json"]
      if (content === undefined) continue
      const refs: Array<any> = content.schema?.anyOf ?? [content.schema]
      const kept = refs.filter((ref) => ref?.$ref !== "#/components/schemas/HttpApiDecodeError")
      content.schema = kept.length === 1 ? kept[0] : kept.length === 0 ? { $ref: "#/components/schemas/BadRequest" } : { anyOf: kept }
    }
  }
  return copy
}
