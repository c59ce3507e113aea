// A V8 CPU profile (`node --cpu-prof`, a .cpuprofile file) read into self time per frame, each
// frame named by its original source: code of the bundle dist/app.cjs through its source map
// (esbuild's, which chains the packages' own maps, so Effect's frames name effect/src/... files),
// Node's own code by its node: module. Only the profile and the map are read: no process here.
// Owns: nothing (pure functions over the parsed profile; the caller reads the files).
//
// Self time, not total: a sample is charged to the frame on top of the stack, so the shares add up
// to the profiled time. Two adjustments make the top frame say what a reader can act on:
// - a native function (url "", e.g. `writev`, JSON.stringify) is charged to the nearest caller
//   with a source, keeping its name (`native`), so "socket writes" from node:net stay node's and
//   a JSON.stringify of ours stays ours;
// - V8's pseudo-frames keep their names: (garbage collector), (idle), (program) (V8 and native
//   code outside any JS function, e.g. the HTTP parser called from libuv).
import { SourceMap } from "node:module"

const PSEUDO = new Set(["(garbage collector)", "(idle)", "(program)", "(root)"])

/** Self time in ms per node id: each sample is charged the time until the next one. */
export const selfTimes = (profile) => {
  const ms = new Map()
  const { samples, timeDeltas } = profile
  for (let i = 0; i < samples.length; i++) {
    const delta = Math.max(0, timeDeltas[i + 1] ?? 0) / 1_000
    ms.set(samples[i], (ms.get(samples[i]) ?? 0) + delta)
  }
  return ms
}

/** A source map's source as the reader knows it: src/..., node_modules/<package>/..., node:... */
export const normalizeSource = (source) => {
  const modules = source.lastIndexOf("node_modules/")
  if (modules !== -1) return source.slice(modules)
  return source.replace(/^[a-z-]+:(?!\/\/)/, "").replace(/^(\.\.?\/)+/, "")
}

/** Parses a v3 source map (Node's own decoder, node:module's SourceMap: no dependency). */
export const sourceMapOf = (json) => new SourceMap(typeof json === "string" ? JSON.parse(json) : json)

/**
 * The frame a call frame is, with its source: `maps` maps a script url to its SourceMap (the
 * bundle's), anything else is named by its url (node:..., or a file path).
 * Lines are 1-based in the result (V8 and source maps count from 0).
 */
export const frameOf = (callFrame, maps) => {
  const { functionName, url, lineNumber, columnNumber } = callFrame
  if (PSEUDO.has(functionName) && url === "") return { functionName, source: functionName, line: 0, pseudo: true }
  const map = maps.get(url)
  if (map !== undefined) {
    const entry = map.findEntry(lineNumber, columnNumber)
    if (entry.originalSource !== undefined) {
      return { functionName: functionName || entry.name || "(anonymous)", source: normalizeSource(entry.originalSource), line: entry.originalLine + 1 }
    }
    return { functionName: functionName || "(anonymous)", source: "dist/app.cjs (unmapped: esbuild's module wrappers)", line: lineNumber + 1 }
  }
  // A file of this checkout (dist/main.js, the bench's raw server) by its path in it.
  const path = url.replace(/^file:\/\//, "")
  return { functionName: functionName || "(anonymous)", source: path.startsWith(`${process.cwd()}/`) ? path.slice(process.cwd().length + 1) : path, line: lineNumber + 1 }
}

/**
 * One entry per profile node that has self time: { ms, frame, native?, stack }, where `frame` is
 * the node's own frame or, for a native function, its nearest caller's with a source (`native`
 * then names the function), and `stack` its callers' frames, outermost first.
 */
export const entriesOf = (profile, maps = new Map()) => {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const frames = new Map()
  const frame = (id) => {
    let found = frames.get(id)
    if (found === undefined) frames.set(id, found = frameOf(byId.get(id).callFrame, maps))
    return found
  }
  const stackOf = (id) => {
    const stack = []
    for (let up = parent.get(id); up !== undefined; up = parent.get(up)) {
      if (byId.get(up).callFrame.functionName !== "(root)") stack.unshift(frame(up))
    }
    return stack
  }
  const entries = []
  for (const [id, ms] of selfTimes(profile)) {
    if (ms === 0) continue
    const own = byId.get(id).callFrame
    const stack = stackOf(id)
    if (own.url === "" && !PSEUDO.has(own.functionName)) {
      // A native function: charged to its nearest caller with a source.
      const callerAt = stack.findLastIndex((caller) => !caller.pseudo && caller.source !== "")
      const native = own.functionName || "(native)"
      if (callerAt === -1) entries.push({ ms, frame: { functionName: native, source: "(native)", line: 0 }, native, stack })
      else entries.push({ ms, frame: stack[callerAt], native, stack: stack.slice(0, callerAt) })
    } else {
      entries.push({ ms, frame: frame(id), stack })
    }
  }
  return entries
}

/**
 * The profile's samples taken between `from` and `to` (µs on the profile's clock, V8's monotonic
 * TimeTicks: on Linux the CLOCK_MONOTONIC that process.hrtime reads, in any process). Answers
 * undefined when the window misses the profile (another clock), for the caller to say so.
 */
export const withinWindow = (profile, from, to) => {
  if (to <= profile.startTime || from >= profile.endTime) return undefined
  const samples = []
  const times = []
  let time = profile.startTime
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i]
    if (time >= from && time <= to) {
      samples.push(profile.samples[i])
      times.push(time)
    }
  }
  if (samples.length === 0) return undefined
  return {
    nodes: profile.nodes,
    startTime: times[0],
    endTime: times[times.length - 1],
    samples,
    timeDeltas: times.map((at, i) => (i === 0 ? 0 : at - times[i - 1]))
  }
}

/** Now on the profiles' clock (µs; see withinWindow). */
export const monotonicMicros = () => Number(process.hrtime.bigint() / 1_000n)

/** Profiled time in ms (first to last sample). */
export const profiledMs = (profile) => (profile.endTime - profile.startTime) / 1_000

/**
 * The entries' time by bucket: `rules` is an ordered list of [bucket, (entry) => boolean]; the
 * first that matches takes the entry, "other" takes the rest. Answers buckets by time, largest
 * first, each with its share of `totalMs` and its three largest functions.
 */
export const bucketize = (entries, rules, totalMs = entries.reduce((sum, entry) => sum + entry.ms, 0)) => {
  const buckets = new Map()
  for (const entry of entries) {
    const name = rules.find(([, matches]) => matches(entry))?.[0] ?? "other"
    const bucket = buckets.get(name) ?? { bucket: name, ms: 0, functions: new Map() }
    bucket.ms += entry.ms
    const key = functionLabel(entry)
    bucket.functions.set(key, (bucket.functions.get(key) ?? 0) + entry.ms)
    buckets.set(name, bucket)
  }
  return [...buckets.values()]
    .map(({ bucket, ms, functions }) => ({
      bucket,
      ms,
      share: totalMs === 0 ? 0 : ms / totalMs,
      top: [...functions].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([name, ms]) => ({ name, ms }))
    }))
    .sort((a, b) => b.ms - a.ms)
}

/** "fn (source:line)", or "native <- fn (source:line)" for a native function charged to its caller. */
export const functionLabel = ({ frame, native }) => {
  const where = frame.pseudo ? frame.source : `${frame.functionName} (${frame.source}${frame.line > 0 ? `:${frame.line}` : ""})`
  return native === undefined ? where : `${native} <- ${where}`
}

/** The `count` functions with the most self time over all entries. */
export const topFunctions = (entries, count, totalMs) => {
  const byLabel = new Map()
  for (const entry of entries) {
    const label = functionLabel(entry)
    byLabel.set(label, (byLabel.get(label) ?? 0) + entry.ms)
  }
  return [...byLabel].sort((a, b) => b[1] - a[1]).slice(0, count).map(([name, ms]) => ({ name, ms, share: totalMs === 0 ? 0 : ms / totalMs }))
}
