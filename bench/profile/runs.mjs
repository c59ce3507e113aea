// The profiling runs behind "Where the time goes" in bench/RESULTS.md: after the figures, the
// service is run once more for each figure that missed its goal (all of them with --profile=all),
// under the same load as the figure, with a profiler on, and the profile is summed by bucket
// (bench/profile/buckets.mjs). The figures themselves always run without a profiler.
// Owns: one child process per run (stopped before the run returns) and its temporary directory
// (removed likewise).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { cpuPerRequest, load, servers, sleep, start } from "../lib.mjs"
import { untilFirstOk, warm } from "../figures/http.mjs"
import { openMany } from "../figures/websocket.mjs"
import { bucketize, entriesOf, monotonicMicros, profiledMs, sourceMapOf, topFunctions, withinWindow } from "./cpuProfile.mjs"
import { requestBuckets, startupBuckets } from "./buckets.mjs"

const bundle = resolve("dist/app.cjs")

/**
 * The bundle's source map, keyed by the url V8 gives its script (dist/main.js compiles it with its
 * path). Without one (a build that wrote none), the bundle's frames stay unmapped, and a note says so.
 */
const bundleMaps = (notes) => {
  if (!existsSync(`${bundle}.map`)) {
    notes.push("dist/app.cjs.map is missing: the bundle's functions are not mapped to their sources")
    return new Map()
  }
  const map = sourceMapOf(readFileSync(`${bundle}.map`, "utf8"))
  return new Map([[`file://${bundle}`, map], [bundle, map]])
}

/** Runs `f(running)` on `server` started with `nodeArgs(dir)` before its own, `dir` a fresh temp dir; answers f's result and the profile written there. */
const profiled = async (server, nodeArgs, f) => {
  const dir = mkdtempSync(join(tmpdir(), "bench-profile-"))
  try {
    const running = await start({ label: `${server.label}, profiled`, args: [...nodeArgs(dir), ...server.args] })
    let result
    try {
      result = await f(running)
    } finally {
      await running.stop()
    }
    const profile = readdirSync(dir).find((name) => name.endsWith(".cpuprofile"))
    return { result, profile: profile === undefined ? undefined : JSON.parse(readFileSync(join(dir, profile), "utf8")) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The profile's samples between two instants, or the whole profile with a note why not. */
const windowOf = (profile, from, to, notes) => {
  const window = withinWindow(profile, from, to)
  if (window !== undefined) return window
  notes.push("the load's window did not fall within the profile's clock: the whole profile is summed (start and stop included)")
  return profile
}

/** `server` under 50 connections on `path` for `duration` s, profiled: its time by bucket while the load ran. */
const profileUnderLoad = async (server, path, duration, maps, notes) => {
  const window = {}
  const { result, profile } = await profiled(server, (dir) => ["--cpu-prof", `--cpu-prof-dir=${dir}`], async ({ port }) => {
    await warm(port)
    window.from = monotonicMicros()
    const loaded = await load({ url: `http://127.0.0.1:${port}${path}`, connections: 50, duration })
    window.to = monotonicMicros()
    return loaded
  })
  if (profile === undefined) throw new Error(`${server.label} wrote no profile`)
  const inLoad = windowOf(profile, window.from, window.to, notes)
  const entries = entriesOf(inLoad, maps)
  const totalMs = profiledMs(inLoad)
  return {
    requests: result.requests.total,
    reqPerSec: result.requests.average,
    totalMs,
    buckets: bucketize(entries, requestBuckets, totalMs),
    top: topFunctions(entries.filter((entry) => !entry.frame.pseudo), 10, totalMs)
  }
}

/**
 * The throughput figure on `path` again, profiled: this service for the figure's duration, raw
 * node:http for up to 2 s (its shares settle sooner, and the bench's time is a budget too).
 */
const throughput = (path, duration) => async () => {
  const notes = []
  const service = await profileUnderLoad(servers.service, path, duration, bundleMaps(notes), notes)
  const rawSeconds = Math.min(duration, 2)
  const raw = await profileUnderLoad(servers.raw, path, rawSeconds, new Map(), notes)
  return { kind: "throughput", path, service, raw, rawSeconds, cpu: cpuPerRequest[path], notes }
}

/** One start, profiled every 200 µs from Node's bootstrap to the first 200: its entries and phases (µs). */
const profileOneStart = async (maps, notes) => {
  const at = { spawned: monotonicMicros() }
  const { profile } = await profiled(servers.service, (dir) => ["--cpu-prof", "--cpu-prof-interval=200", `--cpu-prof-dir=${dir}`], async ({ port }) => {
    at.listening = monotonicMicros()
    await untilFirstOk(port)
    at.firstOk = monotonicMicros()
  })
  if (profile === undefined) throw new Error(`${servers.service.label} wrote no profile`)
  const toFirstOk = windowOf(profile, profile.startTime, at.firstOk, notes)
  return { entries: entriesOf(toFirstOk, maps), totalMs: profiledMs(toFirstOk), at: { ...at, profiled: profile.startTime } }
}

/**
 * `starts` starts profiled one after the other, summed: one start's profile is at the mercy of a
 * GC or a stall on this shared machine; the phases are the median start's.
 */
const startup = (starts) => async () => {
  const notes = []
  const maps = bundleMaps(notes)
  const runs = []
  for (let i = 0; i < starts; i++) runs.push(await profileOneStart(maps, notes))
  const entries = runs.flatMap((run) => run.entries)
  const totalMs = runs.reduce((sum, run) => sum + run.totalMs, 0)
  const ms = (from, to) => (to - from) / 1_000
  const { at } = [...runs].sort((a, b) => ms(a.at.spawned, a.at.firstOk) - ms(b.at.spawned, b.at.firstOk))[Math.floor(runs.length / 2)]
  return {
    kind: "startup",
    starts,
    phases: [
      { phase: "spawn to the profiler's start (process, Node bootstrap)", ms: ms(at.spawned, at.profiled) },
      { phase: "profiler's start to the \"listening\" line (bundle compiled and evaluated, layers built, sockets bound)", ms: ms(at.profiled, at.listening) },
      { phase: "\"listening\" to the first 200 on /healthz", ms: ms(at.listening, at.firstOk) }
    ],
    firstOkMs: ms(at.spawned, at.firstOk),
    totalMs,
    buckets: bucketize(entries, startupBuckets, totalMs),
    top: topFunctions(entries.filter((entry) => !entry.frame.pseudo), 10, totalMs),
    notes
  }
}

const probe = resolve("bench/profile/memoryProbe.cjs")

/** process.memoryUsage() of `child`, through bench/profile/memoryProbe.cjs (SIGUSR2, then its file). */
const memoryOf = async (child, file) => {
  const before = Date.now()
  child.kill("SIGUSR2")
  for (let i = 0; i < 100; i++) {
    await sleep(20)
    try {
      const usage = JSON.parse(readFileSync(file, "utf8"))
      if (usage.at >= before) return usage
    } catch {
      // Not written yet (or half written): read again.
    }
  }
  throw new Error("the memory probe did not answer within 2 s")
}

/** The ws-memory figure again for both servers, with V8's view of the memory each connection costs. */
const memory = (connections) => async () => {
  const rows = []
  for (const key of ["rawWs", "service"]) {
    const dir = mkdtempSync(join(tmpdir(), "bench-memory-"))
    const file = join(dir, "usage.json")
    try {
      const running = await start({ label: servers[key].label, args: ["--expose-gc", "--require", probe, ...servers[key].args] }, { BENCH_MEMORY_PROBE: file })
      try {
        await sleep(500)
        const before = await memoryOf(running.child, file)
        const clients = await openMany(running.port, connections)
        await sleep(1_500)
        const after = await memoryOf(running.child, file)
        for (const ws of clients) ws.terminate()
        const per = (field) => (after[field] - before[field]) / connections / 1_024
        rows.push({
          key,
          label: servers[key].label,
          rss: per("rss"),
          heapUsed: per("heapUsed"),
          external: per("external"),
          // What RSS holds beyond live heap and external memory: heap pages V8 keeps for garbage,
          // socket and libuv buffers, malloc'ed native objects. (heapTotal is no part of it: V8
          // commits heap it has not touched yet, which RSS does not count.)
          rest: per("rss") - per("heapUsed") - per("external"),
          heapCommitted: per("heapTotal")
        })
      } finally {
        await running.stop()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  return { kind: "memory", connections, rows }
}

/** The profiling run for each figure that has one, by figure name. */
export const profilers = ({ duration, wsConnections, starts }) => ({
  hello: throughput("/healthz", duration),
  decode: throughput("/sleep?ms=0", duration),
  startup: startup(starts),
  "ws-memory": memory(wsConnections)
})
