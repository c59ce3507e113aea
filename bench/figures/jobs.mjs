// Job figures, one row per job store: accepted jobs/s (POST /jobs, 50 connections) and job latency
// (202 -> seen done, p50 and p99). SQLite is the default (DATA_DIR); Postgres runs in a fresh schema
// (DATABASE_URL with search_path) and is skipped, saying so, when Postgres is unreachable. The
// baseline row is the old JSONL journal, which is gone from src/: the bench builds it from its last
// commit (JOURNAL_COMMIT, via git archive, into a temporary directory) and measures it in the same
// run. Where that commit is not available (a copy without this history), it prints the figures
// recorded in RECORDED instead, and says so in the row's label.
import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { load, notes, servers, sleep, start, withPostgres } from "../lib.mjs"

const JOURNAL_COMMIT = "0c58787"
/** The journal measured with these figures on JOURNAL_COMMIT, 2026-12-01: the median of three
 * runs (bench/RESULTS.md). */
const RECORDED = { accept: 843, p50: 55, p99: 131 }

// Bound far above what a run accepts: the figure is the accept path, not 429s.
const JOB_ENV = { JOB_QUEUE_SIZE: "1000000" }
const LATENCY_CLIENTS = 10
let LATENCY_JOBS_PER_CLIENT = 50
// Every client polls its job; a shorter interval would load the service with reads it then
// measures. So latencies are up to POLL_MS high.
const POLL_MS = 10

const postgresUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"

const withClient = withPostgres

const postgresReachable = () => withClient(postgresUrl, (client) => client.query("SELECT 1")).then(() => true, () => false)

/** Starts the service on `key`'s store; Postgres gets a fresh schema, dropped on stop. */
const startOn = async (key) => {
  if (key !== "jobsPostgres") return start(servers[key], JOB_ENV)
  const schema = `bench_${process.pid}_${Math.random().toString(36).slice(2, 10)}`
  await withClient(postgresUrl, (client) => client.query(`CREATE SCHEMA ${schema}`))
  const url = new URL(postgresUrl)
  url.searchParams.set("options", `-c search_path=${schema}`)
  const running = await start(servers[key], { ...JOB_ENV, DATABASE_URL: url.toString() })
  return {
    ...running,
    stop: async () => {
      const code = await running.stop()
      await withClient(postgresUrl, (client) => client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))
      return code
    }
  }
}

const withService = async (key, measure) => {
  const running = await startOn(key)
  try {
    return await measure(running)
  } finally {
    await running.stop()
  }
}

const submit = async (port) => {
  const response = await fetch(`http://127.0.0.1:${port}/jobs`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ms: 0, payload: null })
  })
  if (response.status !== 202) throw new Error(`POST /jobs answered ${response.status}: ${await response.text()}`)
  return (await response.json()).id
}

/** Resolves once GET /jobs/:id says done (polled every POLL_MS); a failed job fails the figure. */
const doneAfter = async (port, id) => {
  for (;;) {
    const view = await (await fetch(`http://127.0.0.1:${port}/jobs/${id}`)).json()
    if (view.state === "done") return performance.now()
    if (view.state === "failed") throw new Error(`job ${id} failed: ${view.error}`)
    await sleep(POLL_MS)
  }
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]

/** LATENCY_CLIENTS clients, each submitting a job and waiting for it to be done, in turn. */
const latencies = new Map()
const latencyRun = (key) => {
  if (!latencies.has(key)) {
    latencies.set(key, withService(key, async ({ port }) => {
      const client = async (jobs, samples) => {
        for (let i = 0; i < jobs; i++) {
          const id = await submit(port)
          const acceptedAt = performance.now()
          samples.push((await doneAfter(port, id)) - acceptedAt)
        }
      }
      await Promise.all(Array.from({ length: LATENCY_CLIENTS }, () => client(5, []))) // warm up
      const samples = []
      await Promise.all(Array.from({ length: LATENCY_CLIENTS }, () => client(LATENCY_JOBS_PER_CLIENT, samples)))
      const sorted = samples.sort((a, b) => a - b)
      return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) }
    }))
  }
  return latencies.get(key)
}

/** Builds the journal's dist/main.js from JOURNAL_COMMIT (once, on first use) and makes it the
 * journal server; false when git or the commit is missing. */
let journalBuilt
const buildJournal = () => (journalBuilt ??= buildJournalOnce())
const buildJournalOnce = () => {
  const dir = mkdtempSync(join(tmpdir(), "owned-service-journal-"))
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }))
  try {
    const archive = execFileSync("git", ["archive", JOURNAL_COMMIT, "src", "scripts", "tsconfig.json", "package.json"], { stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 })
    execFileSync("tar", ["-x", "-C", dir], { input: archive })
    symlinkSync(resolve("node_modules"), join(dir, "node_modules"))
    execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: dir, stdio: "inherit" })
    servers.journal = { label: `old JSONL journal (${JOURNAL_COMMIT}, same run)`, args: [join(dir, "dist/main.js")] }
    return true
  } catch (error) {
    const note = `the journal (${JOURNAL_COMMIT}) could not be built (${String(error.message).split("\n")[0]}): its job figures are the ones recorded on 2026-12-01, not this run's`
    console.log(note)
    notes.push(note)
    return false
  }
}

/** The job figures; resolves after probing Postgres once (its rows are dropped when unreachable). */
export const jobs = async (duration, { quick = false } = {}) => {
  if (quick) LATENCY_JOBS_PER_CLIENT = 10
  const stores = ["journal", "jobsSqlite"]
  if (await postgresReachable()) stores.push("jobsPostgres")
  else notes.push(`Postgres unreachable at ${new URL(postgresUrl).host}: the Postgres job figures are skipped`)
  const figure = (name, fields) => ({ servers: stores, summaryKeys: stores.slice(1), ...fields, measure: (key) => key === "journal" && !buildJournal() ? RECORDED[name] : fields.measure(key) })
  return {
    "jobs-accept": figure("accept", {
      title: `accepted jobs/s, POST /jobs {"ms":0}, 50 connections, ${duration} s, WORKERS 4`,
      unit: "jobs/s",
      better: "higher",
      measure: (key) =>
        withService(key, async ({ port }) => {
          const result = await load({
            url: `http://127.0.0.1:${port}/jobs`,
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ ms: 0, payload: null }),
            connections: 50,
            duration
          })
          if (result.non2xx > 0 || result.errors > 0) console.log(`${servers[key].label}: ${result.non2xx} answers other than 202, ${result.errors} errors`)
          return result["2xx"] / result.duration
        })
    }),
    "jobs-p50": figure("p50", {
      title: `job latency p50, 202 -> done, ${LATENCY_CLIENTS} clients each waiting for its job (polled every ${POLL_MS} ms)`,
      unit: "ms",
      better: "lower",
      measure: async (key) => (await latencyRun(key)).p50
    }),
    "jobs-p99": figure("p99", {
      title: `job latency p99, 202 -> done, ${LATENCY_CLIENTS} x ${LATENCY_JOBS_PER_CLIENT} jobs`,
      unit: "ms",
      better: "lower",
      measure: async (key) => (await latencyRun(key)).p99
    })
  }
}
