// npm run bench [-- --only=hello,p99] [-- --duration=5] [-- --ws-connections=5000]
// Every figure is measured for each server in the same run, one server at a time in its own
// child process, and printed with its ratio to the baseline (raw node:http, or raw ws for the
// WebSocket figures): this machine is shared and noisy, so only same-run ratios mean anything.
// The job figures' baseline, the old JSONL journal, is gone from src/: it is built from its last
// commit and measured in the same run (bench/figures/jobs.mjs), or printed as recorded earlier.
import { existsSync } from "node:fs"
import { ratio, servers } from "./lib.mjs"
import { http } from "./figures/http.mjs"
import { shutdown } from "./figures/shutdown.mjs"
import { websocket } from "./figures/websocket.mjs"
import { jobs } from "./figures/jobs.mjs"

const args = Object.fromEntries(process.argv.slice(2).map((arg) => arg.replace(/^--/, "").split("=")))
const duration = Number(args.duration ?? 5)
// The WebSocket figures need the optional socket feature; a service that deleted it has none.
const hasSocket = existsSync("src/socket")
// The job figures need the optional jobs feature, likewise.
const hasJobs = existsSync("src/jobs")
const figures = {
  ...http(duration),
  ...shutdown,
  ...(hasSocket ? websocket(duration, Number(args["ws-connections"] ?? 5_000)) : {}),
  ...(hasJobs ? await jobs(duration) : {})
}
if (!hasSocket) console.log("src/socket is gone: the WebSocket figures are skipped")
if (!hasJobs) console.log("src/jobs is gone: the job figures are skipped")
const selected = args.only === undefined ? Object.keys(figures) : args.only.split(",")
const chosen = args.servers === undefined ? undefined : args.servers.split(",")

if (!existsSync("dist/main.js")) throw new Error("dist/main.js is missing: run `npm run build` first")
const startedAt = Date.now()
const summary = []
for (const name of selected) {
  const figure = figures[name]
  if (figure === undefined) throw new Error(`unknown figure ${name}; one of ${Object.keys(figures).join(", ")}`)
  const keys = figure.servers.filter((key) => chosen === undefined || chosen.includes(key) || key === figure.servers[0])
  const rows = []
  for (const key of keys) rows.push({ key, value: await figure.measure(key) })
  const baseline = rows[0].value
  console.log(`\n${figure.title} (${figure.unit}, ${figure.better} is better; target ${figure.target})`)
  console.table(rows.map(({ key, value }) => ({
    server: servers[key].label,
    [figure.unit]: value === null ? "no exit within 10 s" : Math.round(value * 100) / 100,
    "ratio to baseline": value === null || baseline === null ? "n/a" : ratio(value, baseline)
  })))
  // One summary row per row of this service (the job figures have one per store).
  for (const service of rows.filter((row) => (figure.summaryKeys ?? ["service"]).includes(row.key))) {
    const label = figure.summaryKeys === undefined ? name : `${name} (${service.key})`
    summary.push({ figure: label, service: service.value === null ? "no exit" : Math.round(service.value * 100) / 100, unit: figure.unit, ratio: service.value === null || baseline === null ? "n/a" : ratio(service.value, baseline), target: figure.target })
  }
}
console.log("\nsummary (this service)")
console.table(summary)
console.log(`bench took ${Math.round((Date.now() - startedAt) / 1000)} s`)
