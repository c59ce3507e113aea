// node bench/soak.mjs [--trials=100] [--budget-ms=5000]
// SIGTERM under load, N times: start the service, keep 50 keep-alive connections busy with a mix
// of /sleep?ms=0..200 and /healthz, send SIGTERM at a random moment (50..500 ms), and check:
// - failures: a response that is neither 200 nor a polite 503 (a request accepted and then
//   mistreated), or a request that hung (no answer, no error, within the budget + 2 s);
// - a connection reset or hang-up instead of an answer is a failure on a fresh connection. On a
//   reused keep-alive socket it is the race HTTP/1.1 clients must retry (Node marks it with
//   req.reusedSocket and documents exactly that retry): the listener closed the idle socket as
//   the request was being written, so the server never accepted it. Those are counted as `races`;
// - bad exits: an exit code other than 0, or an exit after the budget.
// Prints `trials N, failures N, races N, bad exits N, worst exit latency ...` and exits 1 on any
// failure or bad exit.
import http from "node:http"
import { exitWithin, servers, sleep, start } from "./lib.mjs"

const args = Object.fromEntries(process.argv.slice(2).map((arg) => arg.replace(/^--/, "").split("=")))
const trials = Number(args.trials ?? 100)
const budgetMs = Number(args["budget-ms"] ?? 5_000)

const request = (agent, port, path) =>
  new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ kind: "hung" }), budgetMs + 2_000)
    const req = http.get({ host: "127.0.0.1", port, path, agent }, (response) => {
      response.resume()
      response.on("end", () => {
        clearTimeout(timer)
        resolve({ kind: "response", status: response.statusCode, close: response.headers.connection === "close", at: performance.now() })
      })
    })
    req.on("error", (error) => {
      clearTimeout(timer)
      if (error.code === "ECONNREFUSED") return resolve({ kind: "refused" })
      resolve({ kind: req.reusedSocket ? "race" : "reset", code: error.code })
    })
  })

/** One connection's worth of traffic until the service tells it to stop (or goes away). */
const client = async (port, stats) => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  try {
    for (;;) {
      const path = Math.random() < 0.5 ? "/healthz" : `/sleep?ms=${Math.floor(Math.random() * 200)}`
      const result = await request(agent, port, path)
      if (result.kind === "refused") return
      if (result.kind === "hung") return void stats.failures.push(`hung: ${path}`)
      if (result.kind === "race") return void stats.races.push(result.code)
      if (result.kind === "reset") return void stats.failures.push(`reset on a fresh connection (${result.code}): ${path}`)
      stats.lastResponse = Math.max(stats.lastResponse, result.at)
      if (result.status !== 200 && result.status !== 503) return void stats.failures.push(`status ${result.status}: ${path}`)
      if (result.status === 503 || result.close) return
    }
  } finally {
    agent.destroy()
  }
}

const totals = { failures: 0, races: 0, badExits: 0, worstAfterLast: 0, worstAfterSignal: 0 }
const began = Date.now()
for (let trial = 0; trial < trials; trial++) {
  const running = await start(servers.service, { SHUTDOWN_TIMEOUT_MS: String(budgetMs) })
  const stats = { failures: [], races: [], lastResponse: 0 }
  const clients = Promise.all(Array.from({ length: 50 }, () => client(running.port, stats)))
  await sleep(50 + Math.random() * 450)
  const signalled = performance.now()
  running.child.kill("SIGTERM")
  const exited = await exitWithin(running.child, budgetMs + 5_000)
  await clients
  const code = running.child.exitCode
  if (exited === null || code !== 0 || exited - signalled > budgetMs) {
    totals.badExits += 1
    console.log(`\ntrial ${trial}: bad exit (code ${code}, ${exited === null ? "killed" : Math.round(exited - signalled) + " ms"})`)
  } else {
    totals.worstAfterSignal = Math.max(totals.worstAfterSignal, exited - signalled)
    if (stats.lastResponse > 0) totals.worstAfterLast = Math.max(totals.worstAfterLast, exited - stats.lastResponse)
  }
  if (stats.failures.length > 0) console.log(`\ntrial ${trial}: ${stats.failures.join(", ")}`)
  totals.failures += stats.failures.length
  totals.races += stats.races.length
  process.stdout.write(".")
}
console.log(
  `\ntrials ${trials}, failures ${totals.failures}, races on reused keep-alive sockets ${totals.races}, bad exits ${totals.badExits}, ` +
    `worst exit latency ${Math.round(totals.worstAfterLast)} ms (after last response), ` +
    `worst SIGTERM->exit ${Math.round(totals.worstAfterSignal)} ms; took ${Math.round((Date.now() - began) / 1000)} s`
)
process.exitCode = totals.failures > 0 || totals.badExits > 0 ? 1 : 0
