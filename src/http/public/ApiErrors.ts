// Errors every public route may answer (features declare their own beside their routes). In code they are Schema.TaggedError classes (`yield* new X(...)`);
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
