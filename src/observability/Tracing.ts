/**
 * The app's tracer: Effect's native span (attributes, events, links, status kept in memory, no
 * exporter) with W3C ids drawn from crypto. Effect's own NativeSpan builds its ids one character
 * at a time (48 Math.random calls, 48 concatenated strings: ~1.6 KB of garbage per request, 6% of
 * what a GET /healthz allocates; issue 21); here they are slices of one hex string rendered from a
 * pooled crypto.randomFillSync buffer.
 * Owns: the pool of random bytes (process-wide, refilled when used up; nothing to release).
 * Does not own: where spans go (nothing exports them; JsonLogger and RequestLifecycle read them).
 * Released when: never (a constant; its layer only installs it for the fibers under it).
 */
import { randomFillSync } from "node:crypto"
import { type Context, type Exit, Layer, type Option, Tracer } from "effect"

/** Bytes drawn per refill: 128 trace ids and span ids (24 bytes a root span). */
const POOL_BYTES = 4096

const pool = Buffer.allocUnsafe(POOL_BYTES)
let hex = ""
let used = 0
/** The longest id all zero: an id is all zero when this starts with it. */
const ZEROS = "0".repeat(32)

/** `length` lowercase hex digits from crypto, never all zero (W3C Trace Context: an all-zero
 * trace id or parent id is invalid). */
const randomHex = (length: number): string => {
  if (used + length > hex.length) {
    randomFillSync(pool)
    hex = pool.toString("hex")
    used = 0
  }
  const id = hex.slice(used, used += length)
  // One chance in 2^64 (span id), 2^128 (trace id): draw again.
  return ZEROS.startsWith(id) ? randomHex(length) : id
}

/** A 32-digit W3C trace id. */
export const traceId = (): string => randomHex(32)

/** A 16-digit W3C span (parent) id. */
export const spanId = (): string => randomHex(16)

/** Effect's NativeSpan, ids aside: everything that reads a span (status, attributes, events,
 * links) finds what the native one keeps. */
class Span implements Tracer.Span {
  readonly _tag = "Span"
  readonly spanId: string
  readonly traceId: string
  readonly sampled = true
  status: Tracer.SpanStatus
  readonly attributes = new Map<string, unknown>()
  readonly events: Array<[name: string, startTime: bigint, attributes: Record<string, unknown>]> = []
  readonly links: Array<Tracer.SpanLink>

  constructor(
    readonly name: string,
    readonly parent: Option.Option<Tracer.AnySpan>,
    readonly context: Context.Context<never>,
    links: Iterable<Tracer.SpanLink>,
    readonly startTime: bigint,
    readonly kind: Tracer.SpanKind
  ) {
    this.status = { _tag: "Started", startTime }
    this.traceId = parent._tag === "Some" ? parent.value.traceId : traceId()
    this.spanId = spanId()
    this.links = Array.from(links)
  }

  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    this.status = { _tag: "Ended", endTime, exit, startTime: this.status.startTime }
  }

  attribute(key: string, value: unknown): void {
    this.attributes.set(key, value)
  }

  event(name: string, startTime: bigint, attributes?: Record<string, unknown>): void {
    this.events.push([name, startTime, attributes ?? {}])
  }

  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    for (const link of links) this.links.push(link)
  }
}

export const tracer: Tracer.Tracer = Tracer.make({
  span: (name, parent, context, links, startTime, kind) => new Span(name, parent, context, links, startTime, kind),
  context: (f) => f()
})

/** Installs `tracer` for every fiber built under it (the servers' runtimes included). */
export const layer: Layer.Layer<never> = Layer.setTracer(tracer)
