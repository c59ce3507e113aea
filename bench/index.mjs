// npm run bench [-- --only=hello,p99] [-- --duration=5] [-- --ws-connections=5000]
// Every figure is measured for each server in the same run, one server at a time in its own
// child process, and printed with its ratio to the baseline (raw node:http, or raw ws for the
// WebSocket figures): this machine is shared and noisy, so only same-run ratios mean anything.
import { existsSync } from "node:fs"
import { ratio, servers } from "./lib.mjs"
import { http } from "./figures/http.mjs"
import { shutdown } from "./figures/shutdown.mjs"
import { websocket } from "./figures/websocket.mjs"

const args = Object.fromEntries(process.argv.slice(2).map((arg) => arg.replace(/^--/, "").split("=")))
const duration = Number(args.duration ?? 5)
// The WebSocket figures need the optional socket feature; a service that deleted it has none.
const hasSocket = existsSync("src/socket")
const figures = { ...http(duration), ...shutdown, ...(hasSocket ? websocket(duration, Number(args["ws-connections"] ?? 5_000)) : {}) }
if (!hasSocket) console.log("src/socket is gone: the WebSocket figures are skipped")
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
  const service = rows.find((row) => row.key === "service")
  summary.push({ figure: name, service: service?.value === null ? "no exit" : Math.round((service?.value ?? NaN) * 100) / 100, unit: figure.unit, ratio: service?.value === null || baseline === null ? "n/a" : ratio(service.value, baseline), target: figure.target })
}
console.log("\nsummary (this service)")
console.table(summary)
console.log(`bench took ${Math.round((Date.now() - startedAt) / 1000)} s`)
