import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric, MetricBoundaries } from "effect"
import * as Prometheus from "../../src/observability/Prometheus.js"
import { leakCheck } from "../support/LeakCheck.js"
import { parsePrometheus, valueOf } from "../support/parsePrometheus.js"
import { withServer } from "../support/inProcessServer.js"

describe("the strict parser (it must be able to fail)", () => {
  it.each([
    ["a sample before its TYPE", "x 1\n"],
    ["a repeated TYPE", "# TYPE x gauge\nx 1\n# TYPE x gauge\n"],
    ["a family split in two", "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n"],
    ["a bad escape", "# TYPE a gauge\na{l=\"\\t\"} 1\n"],
    ["a negative counter", "# TYPE c counter\nc -1\n"],
    ["a histogram without +Inf", "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n"],
    ["non-cumulative buckets", "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"],
    ["no final newline", "# TYPE a gauge\na 1"]
  ])("rejects %s", (_, text) => {
    expect(() => parsePrometheus(text)).toThrow()
  })
})

describe("Prometheus exposition", () => {
  it.effect("renders counters, gauges and histograms the parser accepts, escaping label values", () =>
    Effect.gen(function*() {
      const tricky = "a \"quoted\" back\\slash\nnewline"
      const things: Metric.Metric.Counter<number> = Metric.counter("test_things_total", { description: "Things.\nCounted." })
      yield* Metric.increment(Metric.tagged(things, "kind", tricky))
      yield* Metric.set(Metric.gauge("test_level"), 2.5)
      const histogram = Metric.histogram("test_seconds", MetricBoundaries.fromIterable([0.1, 1]))
      yield* Metric.update(histogram, 0.05)
      yield* Metric.update(histogram, 0.5)
      yield* Metric.update(histogram, 5)
      const families = parsePrometheus(yield* Prometheus.scrape)
      expect(families.get("test_things_total")).toMatchObject({ type: "counter", help: "Things.\\nCounted." })
      expect(valueOf(families, "test_things_total", { kind: tricky })).toBe(1)
      expect(valueOf(families, "test_level")).toBe(2.5)
      expect(families.get("test_seconds")?.samples.map((sample) => [sample.name, sample.labels["le"], sample.value])).toEqual([
        ["test_seconds_bucket", "0.1", 1],
        ["test_seconds_bucket", "1", 2],
        ["test_seconds_bucket", "+Inf", 3],
        ["test_seconds_sum", undefined, 5.55],
        ["test_seconds_count", undefined, 3]
      ])
      expect([...families.keys()].some((name) => name.startsWith("effect_fiber_"))).toBe(false)
    }))

  it.effect("a registered metric nobody updated is exported at 0: a histogram with every bucket, a tagged counter", () =>
    Effect.gen(function*() {
      Metric.histogram("test_unused_seconds", MetricBoundaries.fromIterable([0.5, 2])).register()
      Metric.tagged(Metric.counter("test_unused_total"), "direction", "in").register()
      const families = parsePrometheus(yield* Prometheus.scrape)
      expect(families.get("test_unused_seconds")?.samples.map((sample) => [sample.name, sample.labels["le"], sample.value])).toEqual([
        ["test_unused_seconds_bucket", "0.5", 0],
        ["test_unused_seconds_bucket", "2", 0],
        ["test_unused_seconds_bucket", "+Inf", 0],
        ["test_unused_seconds_sum", undefined, 0],
        ["test_unused_seconds_count", undefined, 0]
      ])
      expect(families.get("test_unused_total")?.samples).toEqual([{ name: "test_unused_total", labels: { direction: "in" }, value: 0 }])
    }))

  it.live("after N requests, the request counter and the duration count grow by N, labelled by route template", () =>
    leakCheck(withServer({ budgetMs: 2_000 }, ({ beginShutdown, connect }) =>
      Effect.gen(function*() {
        const before = parsePrometheus(yield* Prometheus.scrape)
        const connection = yield* connect
        const n = 7
        for (let i = 0; i < n; i++) {
          connection.request("/ok")
          yield* Effect.promise(() => connection.nextResponse())
        }
        connection.request("/nowhere?token=secret")
        yield* Effect.promise(() => connection.nextResponse())
        const after = parsePrometheus(yield* Prometheus.scrape)
        // The probe app is not a router, so its requests are "unmatched"; what matters is that the
        // label is never the raw path with its query.
        const ok = { method: "GET", route: "unmatched", status: "200" }
        expect(valueOf(after, "http_requests_total", ok) - valueOf(before, "http_requests_total", ok)).toBe(n)
        const notFound = { method: "GET", route: "unmatched", status: "404" }
        expect(valueOf(after, "http_requests_total", notFound) - valueOf(before, "http_requests_total", notFound)).toBe(1)
        const count = (families: typeof after) => valueOf(families, "http_request_duration_seconds_count", { route: "unmatched" })
        expect(count(after) - count(before)).toBe(n + 1)
        const routes = after.get("http_requests_total")!.samples.map((sample) => sample.labels["route"])
        expect(routes.some((route) => route?.includes("?"))).toBe(false)
        yield* yield* beginShutdown
        const phases = parsePrometheus(yield* Prometheus.scrape).get("shutdown_phase_duration_seconds")?.samples ?? []
        expect(phases.map((sample) => sample.labels["phase"]).sort()).toEqual(["close-listener", "drain"])
      }))), 10_000)
})
