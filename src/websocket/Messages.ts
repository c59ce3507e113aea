// The WebSocket protocol: text frames of JSON, depth-checked (BoundedJson) and decoded with Schema.
import { Either, Schema } from "effect"
import * as BoundedJson from "../http/BoundedJson.js"

export const Incoming = Schema.Union(
  Schema.Struct({ type: Schema.Literal("echo"), data: Schema.Unknown }),
  Schema.Struct({ type: Schema.Literal("broadcast"), data: Schema.Unknown })
)
export type Incoming = typeof Incoming.Type

const decodeIncoming = Schema.decodeUnknownEither(Incoming)

export const errorFrame = (error: string) => JSON.stringify({ type: "error", error })

/**
 * The frame answering `message` (`{"type","data"}`, excess keys dropped). It cannot throw: what
 * `decode` accepts came from JSON.parse (no cycles, no BigInt) and is at most MAX_JSON_DEPTH deep,
 * so JSON.stringify's recursion stays shallow.
 */
export const encode = (message: Incoming): string => JSON.stringify({ type: message.type, data: message.data })

const textOf = (data: Buffer | ArrayBuffer | Array<Buffer>): string =>
  Buffer.isBuffer(data)
    ? data.toString("utf8")
    : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]).toString("utf8")

/**
 * A frame is either a message to act on or the error to answer with (fit to send back: it never
 * echoes the input). The depth is checked before anything recursive sees the value.
 */
export const decode = (data: Buffer | ArrayBuffer | Array<Buffer>, isBinary: boolean): Either.Either<Incoming, string> => {
  if (isBinary) return Either.left("binary frames are not supported; send JSON text")
  return Either.flatMap(
    BoundedJson.parse(textOf(data)),
    (parsed) => Either.mapLeft(decodeIncoming(parsed), () => `unknown message: expected {"type":"echo"|"broadcast","data":...}`)
  )
}
