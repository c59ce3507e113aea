// The "Where the time goes" section of bench/RESULTS.md, from the profiling runs of this bench run
// (bench/profile/runs.mjs): for each profiled figure, what the time or memory is spent on, with
// its share and the levers known for it (bench/levers.mjs) beside it. Every number comes from the
// run; only the levers' words are fixed.
import { leverFor, memoryLevers } from "../levers.mjs"
import { formatNumber, formatRatio, table, verdict } from "../report.mjs"

const percent = (share) => `${(share * 100).toFixed(1)}%`
const fixed = (value, digits = 1) =>
  typeof value !== "number" || !Number.isFinite(value) ? "n/a" : (Math.abs(value) < 0.5 * 10 ** -digits ? 0 : value).toFixed(digits)

const serverNames = { raw: "raw node:http", stock: "stock @effect/platform-node", service: "this service" }

/** "GET /healthz ... (missed: 8,069 req/s, 0.21x raw; goal ...)" */
const heading = (result) => {
  const { text, met } = verdict(result.goal, result.values)
  const baselineKey = result.servers[0]
  const vs = formatRatio(result.values.service, result.values[baselineKey])
  return `### ${result.title} (${met === null ? "goal not checked" : met ? "met" : "missed"}: ${formatNumber(result.values.service)} ${result.unit}` +
    `${vs === "" ? "" : `, ${vs} ${baselineKey === "rawWs" ? "raw ws" : "raw"}`}; goal ${text})`
}

const bucketTable = (buckets) =>
  table(
    ["bucket", "share", "ms", "largest functions (self time)", "what would remove it"],
    buckets.map((bucket) => [bucket.bucket, percent(bucket.share), fixed(bucket.ms), bucket.top.map((fn) => fn.name).join("; "), leverFor(bucket.bucket)])
  )

const topTable = (top) => table(["function (source:line)", "self time share"], top.map((fn) => [fn.name, percent(fn.share)]))

const IDLE = "idle"
const busyMs = (run) => run.buckets.filter((bucket) => bucket.bucket !== IDLE).reduce((sum, bucket) => sum + bucket.ms, 0)

/**
 * The service's buckets beside raw node:http's (the buckets only raw has, at the end). A bucket's
 * µs per request is its share of the profile's busy (not idle) time times the main thread's CPU
 * per request measured in the figure's own run: the profile says where, /proc says how much.
 */
const comparedTable = ({ service, raw }, cpu) => {
  const names = [...service.buckets.map((bucket) => bucket.bucket), ...raw.buckets.map((bucket) => bucket.bucket).filter((name) => !service.buckets.some((bucket) => bucket.bucket === name))]
  const find = (run, name) => run.buckets.find((bucket) => bucket.bucket === name)
  const estimate = (run, key, name) => {
    const bucket = find(run, name)
    if (bucket === undefined) return "-"
    if (name === IDLE) return "(waiting)"
    const perRequest = cpu[key]?.mainThread
    return perRequest === undefined ? "n/a" : fixed((bucket.ms / busyMs(run)) * perRequest)
  }
  const busyShare = (run, name) => {
    const bucket = find(run, name)
    return bucket === undefined ? "-" : name === IDLE ? `(${percent(bucket.share)} of all)` : percent(bucket.ms / busyMs(run))
  }
  return table(
    ["bucket", "service: share of busy time", "service µs/request", "raw: share of busy time", "raw µs/request", "largest functions in the service (self time)", "what would remove it"],
    [
      ...names.map((name) => [
        name,
        busyShare(service, name),
        estimate(service, "service", name),
        busyShare(raw, name),
        estimate(raw, "raw", name),
        find(service, name)?.top.map((fn) => fn.name).join("; ") ?? "",
        leverFor(name)
      ]),
      ["**busy (all but idle)**", "100%", `**${fixed(cpu.service?.mainThread)}**`, "100%", `**${fixed(cpu.raw?.mainThread)}**`, "", ""]
    ]
  )
}

const throughputSection = (profile) => {
  const lines = []
  const cpu = profile.cpu ?? {}
  const raw = cpu.raw
  if (Object.keys(cpu).length > 0) {
    lines.push("CPU per request under the figure's own load (the figure's runs, without a profiler): CPU time of each server's",
      "process over the load / requests served; main thread on a CPU and waiting for one (runnable, preempted) from",
      "/proc/<pid>/schedstat, all threads and their kernel part from /proc/<pid>/stat (10 ms ticks); read and write",
      "syscalls (sockets included) from /proc/<pid>/io; the main thread's sleeps (voluntary context switches, e.g. into",
      "epoll) and preemptions (involuntary) from /proc/<pid>/status:", "")
    lines.push(table(["server", "main thread µs/request", "vs raw", "main thread waiting for a CPU µs/request", "all threads µs/request", "vs raw", "of which kernel", "reads/request", "writes/request", "sleeps/request", "preemptions/request"], Object.entries(cpu).map(([key, row]) => [
      serverNames[key] ?? key, fixed(row.mainThread), formatRatio(row.mainThread, raw?.mainThread), fixed(row.mainThreadWaiting), fixed(row.process), formatRatio(row.process, raw?.process), fixed(row.system),
      fixed(row.reads, 2), fixed(row.writes, 2), fixed(row.sleeps, 2), fixed(row.preemptions, 2)
    ])), "")
  }
  const { service } = profile
  lines.push(`Where it goes: this service run once more under the same load with \`--cpu-prof\` (1 ms sampling of the main thread;`,
    `the load's window only): ${formatNumber(service.requests)} requests (${formatNumber(service.reqPerSec)} req/s with the profiler on) in ${formatNumber(service.totalMs)} ms;`,
    `raw node:http likewise for ${profile.rawSeconds} s (${formatNumber(profile.raw.requests)} requests). Each sample's self time goes to the bucket of the function`,
    "on top of the stack (a native function, e.g. writev, to its caller's). µs/request = the bucket's share of the busy (not idle)",
    "samples x the main thread's CPU per request above. Samples are wall time: a thread preempted inside a function is",
    "charged for it meanwhile (on this machine writev wakes the load generator, which may then take the core: see \"waiting",
    "for a CPU\" above), so the socket write share is an upper bound; \"of which kernel\" is what syscalls and page faults cost.", "")
  lines.push(comparedTable(profile, cpu), "")
  lines.push("Top functions in the service by self time (the bundle's positions mapped to their sources through dist/app.cjs.map):", "", topTable(service.top))
  return lines
}

const startupSection = (profile, result) => {
  const lines = [
    `${profile.starts === 1 ? "One start" : `${profile.starts} starts`} profiled with \`--cpu-prof --cpu-prof-interval=200\` (µs) to the first 200, the median at ` +
      `${formatNumber(profile.firstOkMs)} ms with the profiler on` +
      (typeof result.values.service === "number" ? ` (the figure's median without it: ${formatNumber(result.values.service)} ms).` : "."),
    "The median start's phases, on the monotonic clock the profile uses:",
    "",
    table(["phase", "ms"], profile.phases.map(({ phase, ms }) => [phase, fixed(ms)])),
    "",
    `Self time by bucket over the ${formatNumber(profile.totalMs)} ms profiled (each start from the profiler's start to its first 200, summed;`,
    "\"module evaluation\" is what ran under dist/main.js's evaluation of the bundle outside any fiber, by package of the",
    "function on top):",
    "",
    bucketTable(profile.buckets),
    "",
    "Top functions by self time:",
    "",
    topTable(profile.top)
  ]
  return lines
}

const memoryParts = [
  ["heapUsed", "V8 heap, live (after a GC)"],
  ["external", "external (Buffers, ArrayBuffers)"],
  ["rest", "rest of RSS (heap V8 keeps for garbage, sockets, libuv, malloc)"]
]

const memorySection = (profile) => [
  `Each server run once more with \`--expose-gc\` and bench/profile/memoryProbe.cjs preloaded (on SIGUSR2: a GC, then`,
  `process.memoryUsage()), before and after ${formatNumber(profile.connections)} idle connections; KB per connection (V8's committed heap,`,
  "heapTotal, is given apart: it is reserved, not all resident):",
  "",
  table(["server", "RSS", ...memoryParts.map(([, label]) => label), "V8 heap committed (heapTotal)"], profile.rows.map((row) => [
    row.label, fixed(row.rss), ...memoryParts.map(([key]) => fixed(row[key])), fixed(row.heapCommitted)
  ])),
  "",
  table(["part", "what would shrink it"], memoryParts.map(([key, label]) => [label, memoryLevers[key]]))
]

/**
 * The section; undefined when nothing was profiled.
 * profiled: [{ result (as in renderBench), profile (bench/profile/runs.mjs's answer, or { error }) }]
 * mode: "missed" (the default: the figures that missed) or "all".
 */
export const renderWhereTheTimeGoes = ({ profiled, mode, tookS }) => {
  if (profiled.length === 0) return undefined
  const lines = [
    "## Where the time goes",
    "",
    `Generated by this run for ${mode === "all" ? "every figure with a profile (`--profile=all`)" : "the figures that missed their goal (`--profile=all` profiles every figure that has a profile)"}:`,
    "after the figures, the service (and its baseline beside it) runs once more under the figure's load with a profiler or",
    "a memory probe on, and each sample's self time is put in a bucket by the source of its function",
    "(bench/profile/buckets.mjs). Throughput, start and WebSocket memory have a profile; the other figures (latency,",
    "SIGTERM, jobs) have none yet. The levers beside the shares are bench/levers.mjs's: directions, each to be proven by",
    `its own A/B figure. The profiling took ${formatNumber(tookS)} s.`,
    ""
  ]
  for (const { result, profile } of profiled) {
    lines.push(heading(result), "")
    if (profile.error !== undefined) lines.push(`Not profiled: ${profile.error}.`)
    else if (profile.kind === "throughput") lines.push(...throughputSection(profile))
    else if (profile.kind === "startup") lines.push(...startupSection(profile, result))
    else if (profile.kind === "memory") lines.push(...memorySection(profile))
    for (const note of profile.notes ?? []) lines.push("", `Note: ${note}.`)
    lines.push("")
  }
  return lines.join("\n").trimEnd()
}
