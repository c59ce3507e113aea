// targetIsUrl answers without parsing on the hot path ("/ok"); it must agree with the URL parser
// on every target, or a bad one would reach a handler's `new URL` and throw.
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { targetIsUrl } from "../../src/http/RawAnswer.js"

const agrees = (target: string) => targetIsUrl(target) === URL.canParse(target, "http://x")

describe("targetIsUrl", () => {
  it("refuses what the URL parser refuses, accepts what it accepts", () => {
    for (const target of ["/", "/ok", "/%zz", "//%", "/\\", "/\t/x", "/\n//a", "http://[", "http://a:b@[::1/x", "*", "host:443"]) {
      expect(agrees(target)).toBe(true)
    }
    expect(targetIsUrl("//%")).toBe(false)
    expect(targetIsUrl("/ok?x=1")).toBe(true)
  })

  it("agrees with URL.canParse on arbitrary origin-form and other targets", () => {
    const byte = fc.integer({ min: 0, max: 255 }).map((code) => String.fromCharCode(code))
    const target = fc.oneof(
      fc.array(byte, { maxLength: 8 }).map((chars) => "/" + chars.join("")),
      fc.array(byte, { maxLength: 12 }).map((chars) => chars.join(""))
    )
    fc.assert(fc.property(target, agrees), { numRuns: 20_000 })
  })
})
