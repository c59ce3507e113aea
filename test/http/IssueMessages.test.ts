// 400 messages come from real Schema decode errors: where and what was expected, never the value.
import { HttpApiError } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import { SleepMs } from "../../src/http/public/CoreApi.js"
import { describeIssues } from "../../src/http/public/IssueMessages.js"

/** Shaped like a job's body: an integer with the schema's own message, and any JSON. */
const NewJob = Schema.Struct({
  ms: Schema.Int.pipe(Schema.between(0, 600_000, { message: () => "must be an integer between 0 and 600000" })),
  payload: Schema.optional(Schema.Unknown)
})

const SECRET = "SECRET-abc"

/** The message a client would get for `input` decoded by `schema`, as HttpApiBuilder reports it. */
const messageFor = <A, I>(schema: Schema.Schema<A, I>, input: unknown) =>
  Effect.gen(function*() {
    const result = Schema.decodeUnknownEither(schema)(input)
    if (Either.isRight(result)) return "decoded"
    return describeIssues(yield* HttpApiError.HttpApiDecodeError.fromParseError(result.left))
  })

describe("400 messages", () => {
  it.effect.each<readonly [string, Schema.Schema<any, any>, unknown, string]>([
    ["a string where a number goes", NewJob, { ms: SECRET }, "ms: expected number"],
    ["an object where a number goes", NewJob, { ms: { [SECRET]: 1 } }, "ms: expected number"],
    ["not an object at all", NewJob, [SECRET], "expected { readonly ms: Int"],
    ["missing", NewJob, {}, "ms: is missing"],
    ["the schema's own message is kept", NewJob, { ms: -1 }, "ms: must be an integer between 0 and 600000"],
    ["a transformation quoting the value", Schema.Struct({ n: Schema.NumberFromString }), { n: SECRET }, "n: is invalid"],
    ["JSON inside a string", Schema.Struct({ j: Schema.parseJson() }), { j: SECRET }, "j: is invalid"],
    ["a query parameter", Schema.Struct({ ms: SleepMs }), { ms: SECRET }, "ms: must be a non-negative integer"],
    ["two values for one parameter", Schema.Struct({ ms: SleepMs }), { ms: [SECRET, "1"] }, "ms: expected string"]
  ])("%s", ([, schema, input, expected]) =>
    Effect.gen(function*() {
      const message = yield* messageFor(schema, input)
      expect(message).toContain(expected)
      expect(message).not.toContain(SECRET)
    }))
})
