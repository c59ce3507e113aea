// npm run bench [-- --only=hello,p99] [-- --duration=5] [-- --ws-connections=5000] [-- --servers=raw,service]
//   [-- --profile=missed|all|none]
// BENCH_QUICK=1 npm run bench: 1 s loads, 300 WebSocket connections, 100 broadcast sessions, 3 starts; to check the bench
// and its report, not to measure.
// Every figure is measured for each server in the same run, one server at a time in its own
// child process, and printed with its ratio to the baseline (raw node:http, or raw ws for the
// WebSocket figures): this machine is shared and noisy, so only same-run ratios mean anything.
// The job figures' baseline, the old JSONL journal, is gone from src/: it is built from its last
// commit and measured in the same run (bench/figures/jobs.mjs), or printed as recorded earlier.
// A full run writes bench/RESULTS.md (bench/report.mjs), with a met/missed column against the
// goals (issue 21); a partial or quick run writes bench/RESULTS.local.md, which git ignores. Either
// way the rolling trial's section of bench/RESULTS.md (npm run trial:rolling) is carried over as it is.
// After the figures, each figure that missed its goal and has a profile (throughput, start, WebSocket
// memory) is run once more with a profiler on, and "Where the time goes" says what the time or memory
// is spent on (bench/profile/): --profile=all profiles them whether missed or not, --profile=none never.
import { existsSync } from "node:fs"
import { notes, ratio, servers } from "./lib.mjs"
import { http } from "./figures/http.mjs"
import { shutdown } from "./figures/shutdown.mjs"
import { websocket } from "./figures/websocket.mjs"
import { jobs } from "./figures/jobs.mjs"
import { renderBench, rollingSectionOf, runInfo, verdict, writeResults } from "./report.mjs"
import { profilers } from "./profile/runs.mjs"
import { renderWhereTheTimeGoes } from "./profile/render.mjs"

const args = Object.fromEntries(process.argv.slice(2).map((arg) => arg.replace(/^--/, "").split("=")))
const quick = process.env.BENCH_QUICK === "1"
const duration = Number(args.duration ?? (quick ? 1 : 5))
const wsConnections = Number(args["ws-connections"] ?? (quick ? 300 : 5_000))
const starts = quick ? 3 : 7
// The shutdown figures: each the median of this many runs per server.
const shutdownRuns = quick ? 3 : 5
const broadcastSessions = quick ? 100 : 1_000
const profileMode = args.profile ?? "missed"
if (!["missed", "all", "none"].includes(profileMode)) throw new Error(`--profile=${profileMode}: one of missed, all, none`)
// The WebSocket figures need the optional socket feature; a service that deleted it has none.
const hasSocket = existsSync("src/websocket")
// The job figures need the optional jobs feature, likewise.
const hasJobs = existsSync("src/jobs")
const run = runInfo()
const figures = {
  ...http(duration, starts),
  ...shutdown(shutdownRuns),
  ...(hasSocket ? websocket(duration, wsConnections, broadcastSessions) : {}),
  ...(hasJobs ? await jobs(duration, { quick }) : {})
}
if (!hasSocket) notes.push("src/websocket is gone: the WebSocket figures are skipped")
if (!hasJobs) notes.push("src/jobs is gone: the job figures are skipped")
for (const note of notes) console.log(note)
const selected = args.only === undefined ? Object.keys(figures) : args.only.split(",")
const chosen = args.servers === undefined ? undefined : args.servers.split(",")

if (!existsSync("dist/main.js")) throw new Error("dist/main.js is missing: run `npm run build` first")
const startedAt = Date.now()
const summary = []
const results = []
for (const name of selected) {
  const figure = figures[name]
  if (figure === undefined) throw new Error(`unknown figure ${name}; one of ${Object.keys(figures).join(", ")}`)
  const keys = figure.servers.filter((key) => chosen === undefined || chosen.includes(key) || key === figure.servers[0])
  const rows = []
  for (const key of keys) rows.push({ key, value: await figure.measure(key) })
  const baseline = rows[0].value
  const values = Object.fromEntries(rows.map(({ key, value }) => [key, value]))
  results.push({ name, title: figure.title, unit: figure.unit, better: figure.better, servers: keys, values, goal: figure.goal, summaryKeys: figure.summaryKeys })
  const { text: goal, met } = verdict(figure.goal, values)
  console.log(`\n${figure.title} (${figure.unit}, ${figure.better} is better; goal ${goal}${met === null ? "" : met ? ": met" : ": MISSED"})`)
  console.table(rows.map(({ key, value }) => ({
    server: servers[key].label,
    [figure.unit]: value === null ? "no exit within 10 s" : Math.round(value * 100) / 100,
    "ratio to baseline": value === null || baseline === null ? "n/a" : ratio(value, baseline)
  })))
  // One summary row per row of this service (the job figures have one per store).
  for (const service of rows.filter((row) => (figure.summaryKeys ?? ["service"]).includes(row.key))) {
    const label = figure.summaryKeys === undefined ? name : `${name} (${service.key})`
    summary.push({ figure: label, service: service.value === null ? "no exit" : Math.round(service.value * 100) / 100, unit: figure.unit, ratio: service.value === null || baseline === null ? "n/a" : ratio(service.value, baseline), goal, met: met === null ? "n/a" : met ? "met" : "MISSED" })
  }
}
console.log("\nsummary (this service)")
console.table(summary)

const profileStartedAt = Date.now()
const profiled = []
// Three profiled starts (one in a quick run) are enough to see past one start's GC or stall.
const profilerOf = profilers({ duration, wsConnections, starts: quick ? 1 : 3 })
for (const result of results) {
  const profile = profilerOf[result.name]
  const { met } = verdict(result.goal, result.values)
  if (profile === undefined || profileMode === "none" || (profileMode === "missed" && met !== false)) continue
  console.log(`\nprofiling ${result.name}`)
  // A profile that fails says so in its section; the figures are measured and stay.
  profiled.push({ result, profile: await profile().catch((error) => ({ error: String(error?.message ?? error) })) })
}
const profileTookS = Math.round((Date.now() - profileStartedAt) / 1000)
const tookS = Math.round((Date.now() - startedAt) / 1000)
console.log(`bench took ${tookS} s${profiled.length === 0 ? "" : `, of which ${profileTookS} s profiling ${profiled.map(({ result }) => result.name).join(", ")}`}`)

const full = !quick && args.only === undefined && args.servers === undefined && args.duration === undefined && args["ws-connections"] === undefined
const options = `${duration} s per load figure, ${wsConnections.toLocaleString("en-US")} WebSocket connections for memory, ${broadcastSessions.toLocaleString("en-US")} for broadcast, start figure the median of ${starts}, shutdown figures the median of ${shutdownRuns}` +
  (quick ? "; BENCH_QUICK=1 (a check of the bench, not a measurement)" : "") +
  `; profiles: ${profileMode === "missed" ? "of the figures that missed" : profileMode}` +
  (args.only === undefined ? "" : `; only ${args.only}`) + (args.servers === undefined ? "" : `; servers ${args.servers}`)
const unmeasuredGoals = [
  ...(selected.includes("ws-broadcast") ? [] : ["WebSocket broadcast to 1,000 sessions within 2x of raw ws: the `ws-broadcast` figure was not run."]),
  ...(selected.includes("decode") ? [] : ["Throughput on an API route that decodes input (GET /sleep?ms=0): the `decode` figure was not run."])
]
const rolling = rollingSectionOf("bench/RESULTS.md")
writeResults(full ? "bench/RESULTS.md" : "bench/RESULTS.local.md", renderBench({
  run, options, results, notes, unmeasuredGoals, tookS, rolling,
  whereTheTimeGoes: renderWhereTheTimeGoes({ profiled, mode: profileMode, tookS: profileTookS })
}))
