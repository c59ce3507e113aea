import { describe, expect, it, vi } from "vitest"

// crypto's first refill is all zero bytes: W3C Trace Context makes an all-zero id invalid, so
// none of those digits may come out as an id.
vi.mock("node:crypto", async (importOriginal) => {
  const crypto = await importOriginal<typeof import("node:crypto")>()
  let first = true
  return {
    ...crypto,
    randomFillSync: <T extends NodeJS.ArrayBufferView>(buffer: T): T => {
      crypto.randomFillSync(buffer)
      if (first) new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength).fill(0)
      first = false
      return buffer
    }
  }
})

describe("Tracing ids", () => {
  it("an all-zero draw is never an id", async () => {
    const Tracing = await import("../../src/observability/Tracing.js")
    expect(Tracing.traceId()).not.toMatch(/^0+$/)
    expect(Tracing.spanId()).not.toMatch(/^0+$/)
  })
})
