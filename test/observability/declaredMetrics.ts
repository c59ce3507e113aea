// The metric families the service declares, read from its source: every Metric.counter / gauge /
// histogram / summary / frequency / timer and MetricKey.* call under src/ names its family with a
// string literal (a name built at run time would hide a family from this scan, so it is refused).
import * as Fs from "node:fs"
import * as Path from "node:path"

export type PrometheusType = "counter" | "gauge" | "histogram" | "summary"

export interface Declared {
  readonly name: string
  readonly type: PrometheusType
  readonly file: string
}

const typeOf: Record<string, PrometheusType> = {
  counter: "counter",
  frequency: "counter", // exposed as a counter with a `value` label (Prometheus.ts)
  gauge: "gauge",
  histogram: "histogram",
  timer: "histogram",
  timerWithBoundaries: "histogram",
  summary: "summary"
}

const declaration = /\b(?:Metric|MetricKey)\.(counter|frequency|gauge|histogram|timerWithBoundaries|timer|summary)\(\s*("[^"]*")?/g

const filesUnder = (dir: string): Array<string> =>
  Fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = Path.join(dir, entry.name)
    return entry.isDirectory() ? filesUnder(path) : entry.name.endsWith(".ts") ? [path] : []
  })

export const declaredMetrics = (root: string): Array<Declared> =>
  filesUnder(root).flatMap((file) =>
    Array.from(Fs.readFileSync(file, "utf8").matchAll(declaration), ([call, kind, literal]): Declared => {
      if (literal === undefined) throw new Error(`${file}: ${call}... declares a metric without a literal name; this scan cannot see it`)
      return { name: JSON.parse(literal) as string, type: typeOf[kind!]!, file }
    })
  )
