import { describe, expect, it } from "@effect/vitest"
import { Headers, HttpTraceContext } from "@effect/platform"
import { Effect, Option, Tracer } from "effect"
import * as Tracing from "../../src/observability/Tracing.js"

/** Enough draws to go through the pool of random bytes several times. */
const DRAWS = 2_000

describe("Tracing", () => {
  it("trace ids are 32 and span ids 16 lowercase hex digits, never all zero, never repeated", () => {
    const traceIds = Array.from({ length: DRAWS }, Tracing.traceId)
    const spanIds = Array.from({ length: DRAWS }, Tracing.spanId)
    for (const id of traceIds) expect(id).toMatch(/^(?!0+$)[0-9a-f]{32}$/)
    for (const id of spanIds) expect(id).toMatch(/^(?!0+$)[0-9a-f]{16}$/)
    expect(new Set(traceIds).size).toBe(DRAWS)
    expect(new Set(spanIds).size).toBe(DRAWS)
  })

  it.effect("a root span starts a trace; its children keep the trace id and get span ids of their own", () =>
    Effect.gen(function*() {
      const [root, child] = yield* Effect.currentSpan.pipe(
        Effect.flatMap((root) => Effect.map(Effect.withSpan(Effect.currentSpan, "child"), (child) => [root, child] as const)),
        Effect.withSpan("root", { root: true })
      )
      expect(root.traceId).toMatch(/^[0-9a-f]{32}$/)
      expect(child.traceId).toBe(root.traceId)
      expect(child.spanId).toMatch(/^[0-9a-f]{16}$/)
      expect(child.spanId).not.toBe(root.spanId)
      expect(Option.map(child.parent, (parent) => parent.spanId)).toEqual(Option.some(root.spanId))
    }).pipe(Effect.provide(Tracing.layer)))

  it("a span continues the caller's traceparent: its trace id, a span id of its own, the caller's span as parent", () => {
    const caller = HttpTraceContext.fromHeaders(Headers.fromInput({ traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" }))
    const span = Tracing.tracer.span("http.server GET", caller, Tracer.DisablePropagation.context(false), [], 1n, "server")
    expect(span.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736")
    expect(span.spanId).toMatch(/^[0-9a-f]{16}$/)
    expect(span.spanId).not.toBe("00f067aa0ba902b7")
    expect(span.parent).toEqual(caller)
  })

  it("a span keeps what Effect's native span keeps: attributes, events, links, start and end", () => {
    const link = { _tag: "SpanLink", span: Tracer.externalSpan({ traceId: "a".repeat(32), spanId: "b".repeat(16) }), attributes: {} } as const
    const span = Tracing.tracer.span("work", Option.none(), Tracer.DisablePropagation.context(false), [link], 5n, "internal")
    span.attribute("http.route", "/healthz")
    span.event("retry", 6n, { attempt: 1 })
    span.addLinks([link])
    span.end(9n, { _tag: "Success", value: undefined } as never)
    expect(span.attributes.get("http.route")).toBe("/healthz")
    // Not in Tracer.Span, but NativeSpan has it (and so whatever reads a native span's events).
    expect((span as Tracer.Span & { readonly events: unknown }).events).toEqual([["retry", 6n, { attempt: 1 }]])
    expect(span.links).toEqual([link, link])
    expect(span.status).toMatchObject({ _tag: "Ended", startTime: 5n, endTime: 9n })
  })
})
