// The WebSocket protocol: text frames of JSON, decoded with Schema.
import { Either, Schema } from "effect"

export const Incoming = Schema.Union(
  Schema.Struct({ type: Schema.Literal("echo"), data: Schema.Unknown }),
  Schema.Struct({ type: Schema.Literal("broadcast"), data: Schema.Unknown })
)
export type Incoming = typeof Incoming.Type

const decodeIncoming = Schema.decodeUnknownEither(Incoming)

export const errorFrame = (error: string) => JSON.stringify({ type: "error", error })

/** A frame is either a message to act on or the error frame to answer with. */
export const decode = (data: Buffer | ArrayBuffer | Array<Buffer>, isBinary: boolean): Either.Either<Incoming, string> => {
  if (isBinary) return Either.left("binary frames are not supported; send JSON text")
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.isBuffer(data) ? data.toString("utf8") : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]).toString("utf8"))
  } catch {
    return Either.left("invalid JSON")
  }
  return Either.mapLeft(decodeIncoming(parsed), () => `unknown message: expected {"type":"echo"|"broadcast","data":...}`)
}
