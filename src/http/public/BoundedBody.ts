// A JSON request body is parsed through BoundedJson before any handler or Schema sees it.
// HttpApiBuilder reads a JSON payload with `request.json` (a plain JSON.parse); ~20 KB of `[[[[`
// then reaches code that recurses (Schema, JSON.stringify in the job store) and blows the stack: a
// RangeError, a defect, a 500. The request handed to the router is the same request whose `json`
// refuses such a body first, as a 400 that names the limit and never quotes the input.
import { HttpServerError, type HttpServerRequest } from "@effect/platform"
import { Data, Effect, Either } from "effect"
import * as BoundedJson from "../BoundedJson.js"

/** Why a JSON body was refused; the message is fit to send back (no input in it). */
export class JsonRefused extends Data.TaggedError("JsonRefused")<{ readonly message: string }> {}

/**
 * True when some number in `value` is not finite. JSON.parse reads 1e400 as Infinity, which
 * JSON.stringify would later write as null: a job would silently run with another payload than
 * the one accepted. Such a body is refused instead. Iterative, so width costs no stack.
 */
const hasNonFiniteNumber = (value: unknown): boolean => {
  const pending: Array<unknown> = [value]
  while (pending.length > 0) {
    const next = pending.pop()
    if (typeof next === "number") {
      if (!Number.isFinite(next)) return true
    } else if (next !== null && typeof next === "object") {
      for (const child of Array.isArray(next) ? next : Object.values(next)) pending.push(child)
    }
  }
  return false
}

/** The body's JSON, or why it is refused. An empty body is null, as the platform reads it. */
export const parse = (text: string): Either.Either<unknown, JsonRefused> => {
  if (text === "") return Either.right(null)
  return Either.match(BoundedJson.parse(text), {
    onLeft: (reason) => Either.left(new JsonRefused({ message: `the request body is refused: ${reason}` })),
    onRight: (value) =>
      hasNonFiniteNumber(value)
        ? Either.left(new JsonRefused({ message: "the request body is refused: a number is out of range (JSON numbers must be finite)" }))
        : Either.right(value)
  })
}

/**
 * The same request, except that `json` goes through `parse` and fails the way the platform's own
 * body errors do (a RequestError; JsonRefused is its cause). Every other member is the original
 * request's, read on the original (so the body is read, and cached, once).
 */
export const withBoundedJson = (request: HttpServerRequest.HttpServerRequest): HttpServerRequest.HttpServerRequest => {
  const json = Effect.flatMap(Effect.suspend(() => request.text), (text) =>
    Either.match(parse(text), {
      onLeft: (refused) =>
        Effect.fail(new HttpServerError.RequestError({ request, reason: "Decode", cause: refused, description: refused.message })),
      onRight: Effect.succeed
    }))
  return new Proxy(request, {
    get: (target, key) => key === "json" ? json : Reflect.get(target, key, target)
  })
}
