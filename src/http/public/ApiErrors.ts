// The public API's shared errors (features declare their own beside their routes). In code they are Schema.TaggedError classes (`yield* new X(...)`);
// on the wire every one is {"error": "<Tag>", "message": "..."} with its HTTP status, and the
// typed client decodes that body back into the class.
import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"

type Tagged<Tag extends string> = { readonly _tag: Tag; readonly message: string }

/** The class on the type side, `{error, message}` on the encoded side, annotated with `status`. */
export const onTheWire = <Tag extends string, Self extends Tagged<Tag>>(
  errorClass: Schema.Schema<Self, Tagged<Tag>> & { readonly _tag: Tag },
  status: number
) =>
  Schema.transform(
    Schema.Struct({ error: Schema.Literal(errorClass._tag), message: Schema.String }),
    errorClass,
    {
      strict: true,
      decode: (wire) => ({ _tag: wire.error, message: wire.message }),
      encode: (error) => ({ error: error._tag, message: error.message })
    }
  ).annotations(HttpApiSchema.annotations({ status, identifier: errorClass._tag }))

export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", { message: Schema.String }) {}
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { message: Schema.String }) {}
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", { message: Schema.String }) {}
export class ShuttingDown extends Schema.TaggedError<ShuttingDown>()("ShuttingDown", { message: Schema.String }) {}
export class InternalServerError
  extends Schema.TaggedError<InternalServerError>()("InternalServerError", { message: Schema.String })
{}
/** Sent by the request lifecycle (http/RequestLifecycle) when a request runs past REQUEST_TIMEOUT_MS. */
export class RequestTimeout extends Schema.TaggedError<RequestTimeout>()("RequestTimeout", { message: Schema.String }) {}
/** Sent by the route gate (ErrorsMiddleware) for a body type the endpoint does not read. */
export class UnsupportedMediaType
  extends Schema.TaggedError<UnsupportedMediaType>()("UnsupportedMediaType", { message: Schema.String })
{}

/** The shared errors with their statuses, to declare on the endpoints that can answer them
 * (`.addError(Wire.BadRequest)`): one schema each, so the document names each error once. */
export const Wire = {
  BadRequest: onTheWire(BadRequest, 400),
  NotFound: onTheWire(NotFound, 404),
  PayloadTooLarge: onTheWire(PayloadTooLarge, 413),
  UnsupportedMediaType: onTheWire(UnsupportedMediaType, 415),
  InternalServerError: onTheWire(InternalServerError, 500),
  ShuttingDown: onTheWire(ShuttingDown, 503),
  RequestTimeout: onTheWire(RequestTimeout, 503)
}

/** The readiness probe's 503s are not error bodies: {"status":"draining"} from shutdown on, and
 * NotReady while a feature cannot serve (its store is unreachable). */
export class Draining extends Schema.Class<Draining>("Draining")(
  { status: Schema.Literal("draining") },
  HttpApiSchema.annotations({ status: 503 })
) {}

export class NotReady extends Schema.Class<NotReady>("NotReady")(
  { status: Schema.Literal("not ready"), reason: Schema.String },
  HttpApiSchema.annotations({ status: 503 })
) {}
