// npm run bench [-- --only=hello] [-- --duration=5]
// Every figure is measured for raw node:http, stock @effect/platform-node and this service in the
// same run, and printed with its ratio to raw node:http (this machine is shared and noisy).
import { load, ratio, servers, start } from "./lib.mjs"

const args = Object.fromEntries(process.argv.slice(2).map((arg) => arg.replace(/^--/, "").split("=")))
const duration = Number(args.duration ?? 5)

const figures = {
  hello: {
    title: `hello throughput, 50 connections, ${duration} s (req/s; higher is better)`,
    measure: async (port) => (await load({ url: `http://127.0.0.1:${port}/healthz`, connections: 50, duration })).requests.average
  },
  p99: {
    title: `p99 latency, 100 connections, ${duration} s (ms; lower is better)`,
    measure: async (port) => (await load({ url: `http://127.0.0.1:${port}/healthz`, connections: 100, duration })).latency.p99
  }
}

const selected = args.only === undefined ? Object.keys(figures) : args.only.split(",")
// --servers=raw,service runs a subset (the ratio needs raw).
const chosen = args.servers === undefined ? Object.keys(servers) : args.servers.split(",")
for (const name of selected) {
  const figure = figures[name]
  if (figure === undefined) throw new Error(`unknown figure ${name}; one of ${Object.keys(figures).join(", ")}`)
  const rows = []
  for (const [key, server] of Object.entries(servers).filter(([key]) => chosen.includes(key))) {
    const running = await start(server)
    await load({ url: `http://127.0.0.1:${running.port}/healthz`, connections: 10, amount: 2_000 }) // warm up
    rows.push({ key, label: server.label, value: await figure.measure(running.port) })
    await running.stop()
  }
  const baseline = rows.find((row) => row.key === "raw").value
  console.log(`\n${figure.title}`)
  console.table(rows.map((row) => ({ server: row.label, value: Math.round(row.value * 100) / 100, "ratio to raw": ratio(row.value, baseline) })))
}
