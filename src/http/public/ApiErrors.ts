// The public API's shared errors (features declare their own beside their routes). Each error
// is one Schema.TaggedError class with its HTTP status annotated on it (`yield* new X(...)` in
// code); on the wire every one is {"error": "<Tag>", "message": "..."} with that status, and the
// typed client decodes that body back into the class.
import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"

/** The class annotation that gives an error its HTTP status. */
export const status = <A>(code: number): Schema.Annotations.Schema<A> => HttpApiSchema.annotations<A>({ status: code })

/**
 * How an error class travels: `{error, message}`, with the status annotated on the class. A
 * TaggedError encodes itself as `{_tag, ...fields}` (its tag key is fixed), so the wire shape is
 * this one transformation: the tag under `error`, the message, nothing else (a class may carry
 * more for logs, e.g. a cause, which never leaves the process). Made once per error, where its
 * group declares it (the document names an error by its tag).
 */
export const onTheWire = <Tag extends string, Self extends { readonly _tag: Tag; readonly message: string }, I>(
  errorClass: Schema.Schema<Self, I> & { readonly _tag: Tag }
) =>
  Schema.transform(
    Schema.Struct({ error: Schema.Literal(errorClass._tag), message: Schema.String }),
    errorClass,
    {
      // Not strict: the class's encoded side may hold optional fields the wire never carries.
      strict: false,
      decode: (wire) => ({ _tag: wire.error, message: wire.message }),
      encode: (_encoded, error) => ({ error: error._tag, message: error.message })
    }
  ).annotations(HttpApiSchema.annotations({ status: HttpApiSchema.getStatusError(errorClass), identifier: errorClass._tag }))

export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", { message: Schema.String }, status(400)) {}
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { message: Schema.String }, status(404)) {}
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", { message: Schema.String }, status(413)) {}
/** Sent by the route gate (ErrorsMiddleware) for a body type the endpoint does not read. */
export class UnsupportedMediaType
  extends Schema.TaggedError<UnsupportedMediaType>()("UnsupportedMediaType", { message: Schema.String }, status(415))
{}
export class InternalServerError
  extends Schema.TaggedError<InternalServerError>()("InternalServerError", { message: Schema.String }, status(500))
{}
export class ShuttingDown extends Schema.TaggedError<ShuttingDown>()("ShuttingDown", { message: Schema.String }, status(503)) {}
/** Sent by the request lifecycle (http/RequestLifecycle) when a request runs past REQUEST_TIMEOUT_MS. */
export class RequestTimeout extends Schema.TaggedError<RequestTimeout>()("RequestTimeout", { message: Schema.String }, status(503)) {}

/** The shared errors on the wire, to declare on the endpoints that can answer them
 * (`.addError(Wire.BadRequest)`): one schema each, so the document names each error once. */
export const Wire = {
  BadRequest: onTheWire(BadRequest),
  NotFound: onTheWire(NotFound),
  PayloadTooLarge: onTheWire(PayloadTooLarge),
  UnsupportedMediaType: onTheWire(UnsupportedMediaType),
  InternalServerError: onTheWire(InternalServerError),
  ShuttingDown: onTheWire(ShuttingDown),
  RequestTimeout: onTheWire(RequestTimeout)
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
