// The scan behind "the first scrape has every family the service declares" must see every
// declaration form used in src/, and refuse one it cannot read.
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { describe, expect, it, onTestFinished } from "vitest"
import { declaredMetrics } from "./declaredMetrics.js"

const tempSource = (files: Record<string, string>) => {
  const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "declared-metrics-"))
  onTestFinished(() => Fs.rmSync(root, { recursive: true, force: true }))
  for (const [name, text] of Object.entries(files)) {
    Fs.mkdirSync(Path.dirname(Path.join(root, name)), { recursive: true })
    Fs.writeFileSync(Path.join(root, name), text)
  }
  return root
}

describe("declaredMetrics", () => {
  it("finds Metric.* and MetricKey.* declarations, a name on the next line, in nested folders", () => {
    const root = tempSource({
      "a.ts": "const c = Metric.counter(\"a_total\", { incremental: true })\nconst g = Metric.gauge(\"a_level\")",
      "feature/b.ts": "const k = MetricKey.histogram(\n  \"b_seconds\",\n  boundaries\n)\nconst f = Metric.frequency(\"b_kinds\")",
      "feature/c.txt": "Metric.gauge(\"not_source\")"
    })
    expect(declaredMetrics(root).map(({ name, type }) => [name, type]).sort()).toEqual([
      ["a_level", "gauge"],
      ["a_total", "counter"],
      ["b_kinds", "counter"],
      ["b_seconds", "histogram"]
    ])
  })

  it("refuses a metric whose name is not a literal", () => {
    const root = tempSource({ "a.ts": "const g = Metric.gauge(`${prefix}_level`)" })
    expect(() => declaredMetrics(root)).toThrow(/without a literal name/)
  })

  it("sees the service's own declarations, the multi-line histogram included", () => {
    const names = declaredMetrics("src").map((declared) => declared.name)
    for (const name of ["http_requests_total", "http_request_duration_seconds", "fibers_owned", "client_errors_total"]) {
      expect(names).toContain(name)
    }
  })
})
