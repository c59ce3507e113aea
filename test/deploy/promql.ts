// The metric names a PromQL expression (or a Grafana variable query) reads, for checking a
// dashboard against /metrics. A small scanner, not a full parser: it skips what cannot name a
// metric (strings, label matchers in {}, ranges and durations in [], numbers, Grafana $variables,
// label lists after by/without/on/ignoring/group_left/group_right, function and aggregation
// names, keywords) and returns every identifier left, plus any {__name__="..."}.

const aggregations = new Set([
  "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile",
  "limitk", "limit_ratio"
])
/** Followed by a parenthesised label list (optional for group_left/group_right). */
const labelListKeywords = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"])
const keywords = new Set(["bool", "and", "or", "unless", "offset", "atan2", "inf", "nan", "start", "end"])

const identStart = /[a-zA-Z_:]/
const identPart = /[a-zA-Z0-9_:]/

/** The index just past the string literal opening at `start` (", ' or `). */
const skipString = (text: string, start: number): number => {
  const quote = text[start]
  let i = start + 1
  while (i < text.length && text[i] !== quote) i += text[i] === "\\" && quote !== "`" ? 2 : 1
  if (i >= text.length) throw new Error(`unterminated string in: ${text}`)
  return i + 1
}

/** The index just past the bracket closing the one at `start`, skipping strings inside. */
const skipGroup = (text: string, start: number, open: string, close: string): number => {
  let depth = 0
  let i = start
  while (i < text.length) {
    const c = text[i]!
    if (c === "\"" || c === "'" || c === "`") {
      i = skipString(text, i)
      continue
    }
    if (c === open) depth += 1
    if (c === close) {
      depth -= 1
      if (depth === 0) return i + 1
    }
    i += 1
  }
  throw new Error(`unbalanced ${open}${close} in: ${text}`)
}

const skipSpaces = (text: string, i: number) => {
  while (i < text.length && /\s/.test(text[i]!)) i += 1
  return i
}

/** `__name__="x"` matchers inside a {...} selector. */
const namesInMatchers = (matchers: string): Array<string> =>
  Array.from(matchers.matchAll(/(?:^|[{,\s])__name__\s*=\s*"([^"]*)"/g), (match) => match[1]!)

export const metricNames = (expr: string): Array<string> => {
  const names: Array<string> = []
  let i = 0
  while (i < expr.length) {
    const c = expr[i]!
    if (/\s/.test(c)) {
      i += 1
    } else if (c === "\"" || c === "'" || c === "`") {
      i = skipString(expr, i)
    } else if (c === "{") {
      const end = skipGroup(expr, i, "{", "}")
      names.push(...namesInMatchers(expr.slice(i, end)))
      i = end
    } else if (c === "[") {
      i = skipGroup(expr, i, "[", "]")
    } else if (c === "$") {
      // A Grafana variable: $name, ${name} or ${name:format}.
      i = expr[i + 1] === "{" ? skipGroup(expr, i + 1, "{", "}") : i + 1
      while (i < expr.length && identPart.test(expr[i]!)) i += 1
    } else if (/[0-9.]/.test(c)) {
      // A number or a duration (5m, 1h30m, 1e3, 0x1f).
      while (i < expr.length && /[0-9a-zA-Z_.]/.test(expr[i]!)) i += 1
    } else if (identStart.test(c)) {
      let end = i
      while (end < expr.length && identPart.test(expr[end]!)) end += 1
      const word = expr.slice(i, end)
      const next = skipSpaces(expr, end)
      if (labelListKeywords.has(word)) {
        i = expr[next] === "(" ? skipGroup(expr, next, "(", ")") : end
      } else {
        // A function or an aggregation (sum by (x) (...) puts `by` between the name and its call).
        if (!(expr[next] === "(" || aggregations.has(word) || keywords.has(word.toLowerCase()))) names.push(word)
        i = end
      }
    } else {
      i += 1
    }
  }
  return names
}

/** The metric names a Grafana Prometheus variable query reads: label_values(selector, label),
 * label_values(label), metrics(regex), query_result(expr), or a bare expression. */
export const variableMetricNames = (query: string): Array<string> => {
  const trimmed = query.trim()
  const labelValues = trimmed.match(/^label_values\(\s*(.*?)\s*(?:,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*)?\)$/s)
  if (labelValues !== null) {
    const selector = labelValues[1]!
    // label_values(label) alone names a label, not a metric.
    return trimmed.includes(",") ? metricNames(selector) : []
  }
  if (/^label_names\(\s*\)$/.test(trimmed) || /^metrics\(/.test(trimmed)) return []
  const queryResult = trimmed.match(/^query_result\((.*)\)$/s)
  return metricNames(queryResult === null ? trimmed : queryResult[1]!)
}
