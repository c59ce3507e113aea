// Prometheus text exposition (format 0.0.4) of Effect's metric registry: one family per metric
// name with one # HELP and # TYPE, then its samples. Histograms get cumulative _bucket{le},
// _sum and _count; summaries get {quantile}, _sum and _count; frequencies become counters with a
// `value` label.
import { Effect, Metric, type MetricPair, MetricState, Option } from "effect"

export const contentType = "text/plain; version=0.0.4; charset=utf-8"

type Labels = ReadonlyArray<readonly [string, string]>

const metricName = (name: string) => name.replace(/[^a-zA-Z0-9_:]/g, "_").replace(/^([0-9])/, "_$1")
const labelName = (name: string) => name.replace(/[^a-zA-Z0-9_]/g, "_").replace(/^([0-9])/, "_$1")
const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")
const escapeHelp = (text: string) => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

const number = (value: number | bigint): string => {
  if (typeof value === "bigint") return value.toString()
  if (Number.isNaN(value)) return "NaN"
  if (value === Infinity) return "+Inf"
  if (value === -Infinity) return "-Inf"
  return String(value)
}

const sample = (name: string, labels: Labels, value: number | bigint) => {
  const rendered = labels.map(([key, label]) => `${labelName(key)}="${escapeLabel(label)}"`).join(",")
  return `${name}${rendered === "" ? "" : `{${rendered}}`} ${number(value)}`
}

interface Family {
  readonly type: "counter" | "gauge" | "histogram" | "summary"
  readonly help: string
  readonly samples: Array<string>
}

const typeOf = (state: MetricState.MetricState.Untyped): Family["type"] | undefined => {
  if (MetricState.isCounterState(state) || MetricState.isFrequencyState(state)) return "counter"
  if (MetricState.isGaugeState(state)) return "gauge"
  if (MetricState.isHistogramState(state)) return "histogram"
  if (MetricState.isSummaryState(state)) return "summary"
  return undefined
}

const samplesOf = (name: string, labels: Labels, state: MetricState.MetricState.Untyped): Array<string> => {
  if (MetricState.isCounterState(state)) return [sample(name, labels, state.count)]
  if (MetricState.isGaugeState(state)) return [sample(name, labels, state.value)]
  if (MetricState.isFrequencyState(state)) {
    return Array.from(state.occurrences, ([value, count]) => sample(name, [...labels, ["value", value]], count))
  }
  if (MetricState.isHistogramState(state)) {
    const buckets = state.buckets.map(([bound, count]) => sample(`${name}_bucket`, [...labels, ["le", number(bound)]], count))
    const hasInf = state.buckets.some(([bound]) => bound === Infinity)
    if (!hasInf) buckets.push(sample(`${name}_bucket`, [...labels, ["le", "+Inf"]], state.count))
    return [...buckets, sample(`${name}_sum`, labels, state.sum), sample(`${name}_count`, labels, state.count)]
  }
  if (MetricState.isSummaryState(state)) {
    const quantiles = state.quantiles.flatMap(([quantile, value]) =>
      Option.isSome(value) ? [sample(name, [...labels, ["quantile", String(quantile)]], value.value)] : []
    )
    return [...quantiles, sample(`${name}_sum`, labels, state.sum), sample(`${name}_count`, labels, state.count)]
  }
  return []
}

/** Effect's own runtime series: effect_fiber_active is declared a counter but goes down, which
 * Prometheus forbids; fibers_owned is the figure to watch. */
const isEffectRuntimeSeries = (name: string) => name.startsWith("effect_fiber_")

export const render = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): string => {
  const families = new Map<string, Family>()
  for (const { metricKey, metricState } of pairs) {
    if (isEffectRuntimeSeries(metricKey.name)) continue
    const type = typeOf(metricState)
    if (type === undefined) continue
    const name = metricName(metricKey.name)
    const family = families.get(name) ?? { type, help: Option.getOrElse(metricKey.description, () => name), samples: [] }
    if (family.type !== type) continue // one name, one type: a clash is dropped rather than made invalid
    families.set(name, family)
    const labels: Labels = metricKey.tags.map((tag) => [tag.key, tag.value] as const)
    family.samples.push(...samplesOf(name, labels, metricState))
  }
  const lines: Array<string> = []
  for (const [name, family] of Array.from(families).sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`# HELP ${name} ${escapeHelp(family.help)}`, `# TYPE ${name} ${family.type}`, ...family.samples)
  }
  return lines.join("\n") + "\n"
}

export const scrape: Effect.Effect<string> = Effect.map(Metric.snapshot, render)
