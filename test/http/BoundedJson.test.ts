import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as BoundedJson from "../../src/http/BoundedJson.js"

describe("BoundedJson", () => {
  it("counts nesting without recursion, ignoring brackets inside strings", () => {
    expect(BoundedJson.depthOf(`{"a":[1,{"b":"[[[[{{{"}]}`)).toBe(3)
    expect(BoundedJson.depthOf(`"\\"[[["`)).toBe(0)
    expect(BoundedJson.depthOf("[".repeat(1_000_000), 32)).toBe(33)
  })

  it("refuses deep input before parsing it, with a message that does not echo the input", () => {
    const deep = "[".repeat(20_000) + "]".repeat(20_000)
    // Without the limit this parses, and the first recursive consumer (stringify) overflows the stack.
    expect(() => JSON.stringify(JSON.parse(deep))).toThrow(RangeError)
    const parsed = BoundedJson.parse(deep)
    expect(parsed).toEqual(Either.left(`JSON nested deeper than ${BoundedJson.MAX_JSON_DEPTH} levels`))
    expect(BoundedJson.parse("[".repeat(32) + "]".repeat(32))._tag).toBe("Right")
    expect(BoundedJson.parse("{secret")).toEqual(Either.left("invalid JSON"))
    expect(BoundedJson.parse("1e400")).toEqual(Either.right(Infinity))
  })
})
