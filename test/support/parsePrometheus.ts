// A strict parser for the Prometheus text exposition format 0.0.4: it throws on anything a
// Prometheus server would reject or misread, so tests can hold /metrics to the format.
export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Family {
  readonly name: string
  readonly help: string
  readonly type: "counter" | "gauge" | "histogram" | "summary" | "untyped"
  readonly samples: Array<Sample>
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/

const parseValue = (text: string, line: string): number => {
  if (text === "+Inf") return Infinity
  if (text === "-Inf") return -Infinity
  if (text === "NaN") return NaN
  if (!/^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/.test(text)) throw new Error(`bad value in: ${line}`)
  return Number(text)
}

/** Parses `{a="x",b="y"}` from `text` at `start`; returns the labels and the index after `}`. */
const parseLabels = (text: string, start: number, line: string): [Record<string, string>, number] => {
  const labels: Record<string, string> = {}
  let i = start + 1
  while (text[i] !== "}") {
    const eq = text.indexOf("=", i)
    const name = text.slice(i, eq)
    if (!labelName.test(name)) throw new Error(`bad label name ${JSON.stringify(name)} in: ${line}`)
    if (name in labels) throw new Error(`duplicate label ${name} in: ${line}`)
    if (text[eq + 1] !== "\"") throw new Error(`unquoted label value in: ${line}`)
    let value = ""
    i = eq + 2
    for (;;) {
      const c = text[i]
      if (c === undefined || c === "\n") throw new Error(`unterminated label value in: ${line}`)
      if (c === "\"") break
      if (c === "\\") {
        const next = text[i + 1]
        if (next === "\\") value += "\\"
        else if (next === "\"") value += "\""
        else if (next === "n") value += "\n"
        else throw new Error(`bad escape \\${next} in: ${line}`)
        i += 2
      } else {
        value += c
        i += 1
      }
    }
    labels[name] = value
    i += 1
    if (text[i] === ",") i += 1
    else if (text[i] !== "}") throw new Error(`expected , or } in: ${line}`)
  }
  return [labels, i + 1]
}

const familyOf = (sample: string, families: Map<string, Family>): Family | undefined => {
  const direct = families.get(sample)
  if (direct !== undefined) return direct
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!sample.endsWith(suffix)) continue
    const family = families.get(sample.slice(0, -suffix.length))
    if (family !== undefined && (family.type === "histogram" || (family.type === "summary" && suffix !== "_bucket"))) return family
  }
  return undefined
}

const checkHistogram = (family: Family) => {
  const series = new Map<string, { buckets: Array<[number, number]>; count?: number }>()
  const keyOf = (labels: Readonly<Record<string, string>>) =>
    JSON.stringify(Object.entries(labels).filter(([name]) => name !== "le").sort())
  for (const sample of family.samples) {
    const key = keyOf(sample.labels)
    const entry = series.get(key) ?? { buckets: [] }
    series.set(key, entry)
    if (sample.name.endsWith("_bucket")) {
      const le = sample.labels["le"]
      if (le === undefined) throw new Error(`${family.name}: bucket without le`)
      entry.buckets.push([parseValue(le, le), sample.value])
    } else if (sample.name.endsWith("_count")) {
      entry.count = sample.value
    }
  }
  for (const [key, { buckets, count }] of series) {
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i]![0] > buckets[i - 1]![0])) throw new Error(`${family.name}${key}: le not ascending`)
      if (buckets[i]![1] < buckets[i - 1]![1]) throw new Error(`${family.name}${key}: buckets not cumulative`)
    }
    const last = buckets.at(-1)
    if (last === undefined || last[0] !== Infinity) throw new Error(`${family.name}${key}: no +Inf bucket`)
    if (count === undefined || last[1] !== count) throw new Error(`${family.name}${key}: +Inf bucket != _count`)
  }
}

export const parsePrometheus = (text: string): Map<string, Family> => {
  if (!text.endsWith("\n")) throw new Error("exposition must end with a newline")
  const families = new Map<string, Family>()
  const help = new Map<string, string>()
  let current: Family | undefined
  for (const line of text.slice(0, -1).split("\n")) {
    if (line.startsWith("# HELP ")) {
      const [, name = "", ...rest] = line.split(" ").slice(1)
      if (!metricName.test(name) || help.has(name)) throw new Error(`bad or repeated HELP: ${line}`)
      help.set(name, rest.join(" "))
    } else if (line.startsWith("# TYPE ")) {
      const [name = "", type = ""] = line.split(" ").slice(2)
      if (!metricName.test(name) || families.has(name)) throw new Error(`bad or repeated TYPE: ${line}`)
      if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(type)) throw new Error(`bad type: ${line}`)
      current = { name, help: help.get(name) ?? "", type: type as Family["type"], samples: [] }
      families.set(name, current)
    } else if (line.startsWith("#")) {
      continue
    } else {
      const brace = line.indexOf("{")
      const space = line.indexOf(" ")
      const nameEnd = brace !== -1 && brace < space ? brace : space
      const name = line.slice(0, nameEnd)
      if (!metricName.test(name)) throw new Error(`bad metric name: ${line}`)
      const [labels, after] = nameEnd === brace ? parseLabels(line, brace, line) : [{}, nameEnd]
      const rest = line.slice(after).trim().split(" ")
      const value = parseValue(rest[0] ?? "", line)
      const family = familyOf(name, families)
      if (family === undefined) throw new Error(`sample before its TYPE: ${line}`)
      if (family !== current) throw new Error(`samples of ${family.name} are not grouped together: ${line}`)
      if (family.type === "counter" && value < 0) throw new Error(`negative counter: ${line}`)
      family.samples.push({ name, labels, value })
    }
  }
  for (const family of families.values()) if (family.type === "histogram") checkHistogram(family)
  return families
}

/** The value of one sample, by name and an exact label set (0 when absent: counters start there). */
export const valueOf = (families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number => {
  for (const family of families.values()) {
    for (const sample of family.samples) {
      if (sample.name !== name) continue
      const keys = Object.keys(sample.labels)
      if (keys.length === Object.keys(labels).length && keys.every((key) => sample.labels[key] === labels[key])) return sample.value
    }
  }
  return 0
}
