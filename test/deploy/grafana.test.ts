// The Grafana dashboard in deploy/grafana/ reads only what the service exports: every metric name
// in every panel query and variable query is a series of the real service's first scrape (taken
// right after "listening", before any traffic). A histogram is queried by its _bucket, _sum or
// _count series, never by its family name alone (Prometheus stores no series under that name).
// A row titled "... (src/<feature>)" holds that feature's panels: when the feature's folder is
// deleted (scripts/check-removable.mjs), its row is not checked (the README says to delete it).
import * as Fs from "node:fs"
import { describe, expect, it } from "vitest"
import { type Family, parsePrometheus } from "../support/parsePrometheus.js"
import { spawnService } from "../support/spawnService.js"
import { metricNames, variableMetricNames } from "./promql.js"

const dashboardPath = "deploy/grafana/dashboard.json"

interface Panel {
  readonly type: string
  readonly title: string
  readonly collapsed?: boolean
  readonly panels?: ReadonlyArray<Panel>
  readonly targets?: ReadonlyArray<{ readonly expr?: string }>
}

interface Dashboard {
  readonly panels: ReadonlyArray<Panel>
  readonly templating?: { readonly list: ReadonlyArray<{ readonly type: string; readonly query?: unknown; readonly name: string }> }
}

interface Query {
  /** Where it is: the panel's title, or the variable's name. */
  readonly where: string
  readonly expr: string
  readonly names: ReadonlyArray<string>
  /** The feature folder (src/<feature>) whose row holds the panel; undefined for the core. */
  readonly feature: string | undefined
}

const featureOf = (row: Panel | undefined) => row?.title.match(/\(src\/([a-z0-9_-]+)\)/)?.[1]

/** Every query of the dashboard, with the feature row it sits in. Rows own the panels after them
 * (or, collapsed, the panels inside them). */
const queriesOf = (dashboard: Dashboard): Array<Query> => {
  const queries: Array<Query> = []
  const add = (panel: Panel, row: Panel | undefined) => {
    for (const target of panel.targets ?? []) {
      if (target.expr === undefined) continue
      queries.push({ where: panel.title, expr: target.expr, names: metricNames(target.expr), feature: featureOf(row) })
    }
  }
  let row: Panel | undefined
  for (const panel of dashboard.panels) {
    if (panel.type === "row") {
      row = panel
      for (const inner of panel.panels ?? []) add(inner, panel)
    } else {
      add(panel, row)
    }
  }
  for (const variable of dashboard.templating?.list ?? []) {
    if (variable.type !== "query") continue
    const query = typeof variable.query === "string" ? variable.query : (variable.query as { query?: string } | undefined)?.query
    if (query === undefined) continue
    queries.push({ where: `variable $${variable.name}`, expr: query, names: variableMetricNames(query), feature: undefined })
  }
  return queries
}

/** What is wrong with each name the queries read that the scrape does not have. */
const problems = (
  queries: ReadonlyArray<Query>,
  families: Map<string, Family>,
  featurePresent: (feature: string) => boolean
): Array<string> => {
  const series = new Set(Array.from(families.values(), (family) => family.samples.map((sample) => sample.name)).flat())
  const found: Array<string> = []
  for (const query of queries) {
    if (query.feature !== undefined && !featurePresent(query.feature)) continue
    if (query.names.length === 0) found.push(`${query.where}: names no metric: ${query.expr}`)
    for (const name of query.names) {
      if (series.has(name)) continue
      const family = families.get(name)
      found.push(
        family === undefined
          ? `${query.where}: ${name} is not exported`
          : `${query.where}: ${name} is a ${family.type}: query its ${family.type === "histogram" ? "_bucket, _sum or _count" : "_sum or _count"} series`
      )
    }
  }
  return found
}

const dashboard = JSON.parse(Fs.readFileSync(dashboardPath, "utf8")) as Dashboard
const featurePresent = (feature: string) => Fs.existsSync(`src/${feature}`)

describe("the PromQL scanner finds metric names and nothing else", () => {
  it.each([
    ["a bare name", "fibers_owned", ["fibers_owned"]],
    ["a selector with matchers holding braces, commas and keywords", "ws_sessions{instance=~\"a{1},b\", job!=\"by\"}", ["ws_sessions"]],
    [
      "functions, an aggregation with by, a range with a Grafana variable",
      "histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{route=~\"$route\"}[$__rate_interval])))",
      ["http_request_duration_seconds_bucket"]
    ],
    ["by after the call, without, offset", "sum(rate(jobs_total[5m] offset 1h)) without (state)", ["jobs_total"]],
    [
      "binary operators, on/group_left label lists, numbers",
      "a_total / on(instance) group_left(name, le) b_seconds * 1e3 > bool 0.5 and c unless d",
      ["a_total", "b_seconds", "c", "d"]
    ],
    ["topk with a parameter, ${var}", "topk(5, max by (phase) (shutdown_phase_duration_seconds{x=\"${var}\"}))", ["shutdown_phase_duration_seconds"]],
    ["__name__ matchers", "{__name__=\"process_resident_memory_bytes\", instance=\"x\"}", ["process_resident_memory_bytes"]],
    ["a subquery", "max_over_time(rate(ws_messages_total[1m])[1h:5m])", ["ws_messages_total"]],
    ["a misspelt name is still a name", "sum(rate(http_request_total[5m]))", ["http_request_total"]]
  ])("%s", (_, expr, names) => {
    expect(metricNames(expr)).toEqual(names)
  })

  it.each([
    ["label_values(metric, label)", "label_values(fibers_owned, instance)", ["fibers_owned"]],
    ["label_values(selector, label)", "label_values(ws_sessions{job=\"a,b\"}, instance)", ["ws_sessions"]],
    ["label_values(label)", "label_values(instance)", []],
    ["query_result(expr)", "query_result(max(jobs_queue_depth))", ["jobs_queue_depth"]]
  ])("variable query %s", (_, query, names) => {
    expect(variableMetricNames(query)).toEqual(names)
  })
})

describe("deploy/grafana/dashboard.json", () => {
  it("has the panels an operator needs, each with at least one query", () => {
    const queries = queriesOf(dashboard)
    const read = new Set(queries.flatMap((query) => query.names))
    for (
      const name of [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "http_requests_in_flight",
        "shutdown_phase_duration_seconds",
        "nodejs_eventloop_lag_seconds",
        "process_resident_memory_bytes",
        "fibers_owned",
        "client_errors_total",
        "ws_sessions",
        "ws_broadcast_dropped_total",
        "jobs_queue_depth",
        "circuit_breaker_state"
      ]
    ) expect(read.has(name), name).toBe(true)
    for (const panel of dashboard.panels.filter((panel) => panel.type !== "row")) {
      expect(panel.targets?.length ?? 0, panel.title).toBeGreaterThan(0)
    }
    // Every feature row names a folder that is (or was, before a removal check) a feature.
    for (const row of dashboard.panels.filter((panel) => panel.type === "row")) {
      const feature = featureOf(row)
      if (feature !== undefined) expect(["websocket", "jobs", "upstream"]).toContain(feature)
    }
  })

  it("the check can fail: a misspelt name, a histogram queried by its family name, an empty query", () => {
    const families = parsePrometheus([
      "# TYPE h histogram",
      "h_bucket{le=\"+Inf\"} 0",
      "h_sum 0",
      "h_count 0",
      "# TYPE g gauge",
      "g 0",
      ""
    ].join("\n"))
    const broken: Dashboard = {
      panels: [
        { type: "timeseries", title: "ok", targets: [{ expr: "g + rate(h_sum[5m]) / rate(h_count[5m])" }] },
        { type: "timeseries", title: "misspelt", targets: [{ expr: "gg" }] },
        { type: "timeseries", title: "family name", targets: [{ expr: "rate(h[5m])" }] },
        { type: "timeseries", title: "no metric", targets: [{ expr: "vector(1)" }] },
        { type: "row", title: "Gone (src/gone)" },
        { type: "timeseries", title: "removed feature", targets: [{ expr: "gone_total" }] }
      ]
    }
    expect(problems(queriesOf(broken), families, (feature) => feature !== "gone")).toEqual([
      "misspelt: gg is not exported",
      "family name: h is a histogram: query its _bucket, _sum or _count series",
      "no metric: names no metric: vector(1)"
    ])
    expect(problems(queriesOf(broken), families, () => true)).toContain("removed feature: gone_total is not exported")
  })

  it("every metric name in every query is a series of the service's first scrape", async () => {
    const service = await spawnService()
    // Once, right after "listening": nothing has been used yet.
    const response = await fetch(`http://127.0.0.1:${service.adminPort}/metrics`)
    expect(response.status).toBe(200)
    const families = parsePrometheus(await response.text())
    expect(problems(queriesOf(dashboard), families, featurePresent)).toEqual([])
  })
})
