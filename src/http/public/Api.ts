// The public HTTP API, declared once. Handlers live in PublicApp.ts; the OpenAPI document and
// the typed client (HttpApiClient.make(Api)) are derived from this declaration.
import { HttpApi, HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import {
  BadRequest,
  Draining,
  InternalServerError,
  NotFound,
  onTheWire,
  PayloadTooLarge,
  QueueFull,
  ShuttingDown,
  CircuitOpen,
  UpstreamNotConfigured,
  UpstreamUnavailable
} from "./ApiErrors.js"

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
  )
{}

export class Work extends HttpApiGroup.make("work")
  .add(
    HttpApiEndpoint.get("sleep", "/sleep")
      .setUrlParams(Schema.Struct({ ms: SleepMs }))
      .addSuccess(Schema.Struct({ sleptMs: Schema.Number }))
  )
{}

export const JobState = Schema.Literal("queued", "running", "done", "failed")

export const JobView = Schema.Struct({
  id: Schema.String,
  state: JobState,
  ms: Schema.Number,
  payload: Schema.Unknown,
  acceptedAt: Schema.String,
  updatedAt: Schema.String,
  error: Schema.optional(Schema.String)
})

export const NewJob = Schema.Struct({
  ms: Schema.Int.pipe(Schema.between(0, MAX_SLEEP_MS, { message: () => `must be an integer between 0 and ${MAX_SLEEP_MS}` })),
  payload: Schema.optionalWith(Schema.Unknown, { default: () => null })
})

export class Jobs extends HttpApiGroup.make("jobs")
  .add(
    HttpApiEndpoint.post("submit", "/jobs")
      .setPayload(NewJob)
      .addSuccess(Schema.Struct({ id: Schema.String }), { status: 202 })
      .addError(onTheWire(QueueFull, 429))
      .addError(onTheWire(ShuttingDown, 503))
  )
  .add(
    HttpApiEndpoint.get("get", "/jobs/:id")
      .setPath(Schema.Struct({ id: Schema.String }))
      .addSuccess(JobView)
  )
{}

export class UpstreamGroup extends HttpApiGroup.make("upstream")
  .add(
    HttpApiEndpoint.get("get", "/upstream")
      .addSuccess(Schema.Struct({ upstream: Schema.Unknown }))
      .addError(onTheWire(UpstreamNotConfigured, 503))
      .addError(onTheWire(CircuitOpen, 503))
      .addError(onTheWire(UpstreamUnavailable, 503))
  )
{}

export class Api extends HttpApi.make("public")
  .add(Health)
  .add(Work)
  .add(Jobs)
  .add(UpstreamGroup)
  .addError(onTheWire(BadRequest, 400))
  .addError(onTheWire(NotFound, 404))
  .addError(onTheWire(PayloadTooLarge, 413))
  .addError(onTheWire(InternalServerError, 500))
  .annotate(OpenApi.Title, "owned-service public API")
  .annotate(OpenApi.Version, "0.1.0")
  .annotate(OpenApi.Transform, withoutDefaultDecodeError)
{}

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
