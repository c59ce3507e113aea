// Shared bench plumbing: start a server as a child process, read its port from the JSON
// "listening" line, load it with autocannon, stop it.
import autocannon from "autocannon"
import { spawn } from "node:child_process"
import { rmSync } from "node:fs"
import pg from "pg"

export const servers = {
  raw: { label: "raw node:http", args: ["bench/servers/raw.mjs"] },
  stock: { label: "stock @effect/platform-node", args: ["bench/servers/stock-effect.mjs"] },
  service: { label: "this service (logs, metrics, tracing on)", args: ["dist/main.js"] },
  rawWs: { label: "raw ws (node:http + ws)", args: ["bench/servers/raw-ws.mjs"] },
  // The job figures' baseline: bench/figures/jobs.mjs builds it from the journal's last commit.
  journal: { label: "old JSONL journal (recorded earlier, not this run)", args: [] },
  jobsSqlite: { label: "this service, SQLite in DATA_DIR (default)", args: ["dist/main.js"] },
  jobsPostgres: { label: "this service, Postgres (DATABASE_URL)", args: ["dist/main.js"] }
}

/** Resident set size of a process, in bytes (Linux /proc). */
export const rssOf = async (pid) => {
  const { readFile } = await import("node:fs/promises")
  const status = await readFile(`/proc/${pid}/status`, "utf8")
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024
}

/**
 * CPU time of a process so far, in µs: `process` for all its threads (/proc/<pid>/stat, user +
 * system, in clock ticks: USER_HZ, 100 on Linux), `system` the kernel's part of it (syscalls:
 * socket reads and writes, page faults), `mainThread` its main thread alone (/proc/<pid>/schedstat,
 * ns on CPU), where JavaScript runs (the rest is GC helpers and libuv's pool), and `mainThreadWaiting`
 * the time that thread was runnable but waited for a CPU (schedstat's second field: preempted).
 */
export const cpuOf = async (pid) => {
  const { readFile } = await import("node:fs/promises")
  // The command name (field 2) may hold spaces: the fields counted from after its ")".
  const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1].split(" ")
  const [user, system] = [Number(fields[11]) * 10_000, Number(fields[12]) * 10_000]
  const [onCpuNs, waitingNs] = (await readFile(`/proc/${pid}/schedstat`, "utf8")).split(" ").map(Number)
  return { process: user + system, system, mainThread: onCpuNs / 1_000, mainThreadWaiting: waitingNs / 1_000 }
}

/**
 * A process's I/O syscalls so far (/proc/<pid>/io): `reads` and `writes` (read/recv and
 * write/writev/send calls, sockets included); and its main thread's context switches
 * (/proc/<pid>/status): `sleeps` (it waited, e.g. in epoll) and `preemptions` (the kernel took its CPU).
 */
export const ioOf = async (pid) => {
  const { readFile } = await import("node:fs/promises")
  const fieldsOf = async (file, separator) =>
    Object.fromEntries((await readFile(`/proc/${pid}/${file}`, "utf8")).trim().split("\n").map((line) => line.split(separator).map((part) => part.trim())))
  const io = await fieldsOf("io", ": ")
  const status = await fieldsOf("status", ":")
  return {
    reads: Number(io.syscr),
    writes: Number(io.syscw),
    sleeps: Number(status.voluntary_ctxt_switches),
    preemptions: Number(status.nonvoluntary_ctxt_switches)
  }
}

/**
 * CPU µs per request of each server under a throughput figure's load, by the figure's path then
 * the server's key: { requests, process, system, mainThread, mainThreadWaiting, reads, writes, sleeps,
 * preemptions } (bench/profile
 * reads them; not a figure).
 */
export const cpuPerRequest = {}

/** Lines for the results file's notes (what a figure saw besides its number). */
export const notes = []

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

/** Resolves with the exit time (performance.now()) or null if it did not exit within `ms`. */
export const exitWithin = (child, ms) =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(performance.now())
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      resolve(null)
    }, ms)
    child.once("exit", () => {
      clearTimeout(timer)
      resolve(performance.now())
    })
  })

const benchDataDir = () => `${process.env.TMPDIR ?? "/tmp"}/owned-service-bench-${process.pid}-${Math.random().toString(36).slice(2)}`

/** Starts `server`; resolves once it is listening, with its port and a stop function. */
export const start = (server, env = {}) =>
  new Promise((resolve, reject) => {
    const startedAt = performance.now()
    const dataDir = benchDataDir()
    const child = spawn(process.execPath, server.args, {
      env: { PATH: process.env.PATH, PORT: "0", ADMIN_PORT: "0", HOST: "127.0.0.1", DATA_DIR: dataDir, ...env },
      stdio: ["ignore", "pipe", "inherit"]
    })
    // The job store (SQLite) lives there: gone with the child, however it ends.
    child.once("exit", () => rmSync(dataDir, { recursive: true, force: true }))
    const timer = setTimeout(() => reject(new Error(`${server.label} did not start`)), 10_000)
    let buffered = ""
    child.stdout.setEncoding("utf8").on("data", (chunk) => {
      buffered += chunk
      for (const line of buffered.split("\n").slice(0, -1)) {
        const parsed = JSON.parse(line)
        if (parsed.message === "listening") {
          clearTimeout(timer)
          resolve({ child, port: parsed.port, adminPort: parsed.adminPort, startedAt, stop: () => stop(child) })
        }
      }
      buffered = buffered.slice(buffered.lastIndexOf("\n") + 1)
    })
    child.once("exit", (code) => reject(new Error(`${server.label} exited with ${code}`)))
  })

export const stop = (child) =>
  new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode)
    const killer = setTimeout(() => child.kill("SIGKILL"), 5_000)
    child.once("exit", (code) => {
      clearTimeout(killer)
      resolve(code)
    })
    child.kill("SIGTERM")
  })

export const load = (options) =>
  new Promise((resolve, reject) => autocannon(options, (error, result) => error ? reject(error) : resolve(result)))

export const ratio = (value, baseline) => (baseline === 0 ? "n/a" : (value / baseline).toFixed(2))

/** Runs `f` with one Postgres client on `url` (3 s to connect), always closed after. */
export const withPostgres = async (url, f) => {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 })
  client.on("error", () => undefined)
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end().catch(() => undefined)
  }
}
