// "Where the time goes" in bench/RESULTS.md (bench/profile/, bench/levers.mjs) on a made-up profile
// and source map: a real profiling run is too slow and too noisy for a test, so what is checked here
// is what turns a profile into the section: the bundle's positions mapped to their sources, native
// functions charged to their callers, the window of the load, the buckets, and the rendering.
import { describe, expect, it } from "vitest"
import { leverFor, levers } from "../../bench/levers.mjs"
import { requestBuckets, startupBuckets } from "../../bench/profile/buckets.mjs"
import {
  bucketize,
  type CpuProfile,
  type Entry,
  entriesOf,
  frameOf,
  normalizeSource,
  profiledMs,
  sourceMapOf,
  topFunctions,
  withinWindow
} from "../../bench/profile/cpuProfile.mjs"
import { renderWhereTheTimeGoes } from "../../bench/profile/render.mjs"
import { atLeast, atMost, atMostAbsolute } from "../../bench/goals.mjs"
import { renderBench, type Result } from "../../bench/report.mjs"

const BUNDLE = "file:///checkout/dist/app.cjs"

// A bundle of one line: columns 0-19 come from Effect's fiber runtime (its line 11), 20- from our
// request handler (its line 6). Mappings "AAUA,oBCLE": [col 0, source 0, line 10, col 0], then
// [col +20, source +1, line -5, col +2], each field a base64 VLQ.
const map = sourceMapOf({
  version: 3,
  sources: ["../../main/node_modules/effect/src/internal/fiberRuntime.ts", "../src/http/server/RequestHandler.ts"],
  names: [],
  mappings: "AAUA,oBCLE"
})
const maps = new Map([[BUNDLE, map]])

const frame = (id: number, functionName: string, url: string, lineNumber = 0, columnNumber = 0, children: Array<number> = []) =>
  ({ id, callFrame: { functionName, url, lineNumber, columnNumber }, children })

/** A profile whose node `id` is on top of the stack for `ms[id]` ms, sampled every ms from t = 1 s. */
const profileOf = (ms: ReadonlyArray<readonly [number, number]>): CpuProfile => {
  const samples = ms.flatMap(([id, count]) => Array.from({ length: count }, () => id))
  return {
    nodes: [
      frame(1, "(root)", "", 0, 0, [2, 6, 7, 8]),
      frame(2, "handler", BUNDLE, 0, 22, [3, 4]),
      frame(3, "runLoop", BUNDLE, 0, 3),
      frame(4, "writevGeneric", "node:internal/stream_base_commons", 122, 0, [5]),
      frame(5, "writev", ""),
      frame(6, "(garbage collector)", ""),
      frame(7, "(idle)", ""),
      frame(8, "(program)", "")
    ],
    startTime: 1_000_000,
    endTime: 1_000_000 + samples.length * 1_000,
    // The last sample is charged nothing (no next one): a root sample closes the profile.
    samples: [...samples, 1],
    timeDeltas: [0, ...samples.map(() => 1_000)]
  }
}
const profile = profileOf([[3, 3], [2, 2], [5, 4], [4, 1], [6, 1], [7, 5]])

describe("the bundle's positions, through its source map", () => {
  it("a frame of the bundle names its original source (1-based line); Node's own code its node: module", () => {
    expect(frameOf({ functionName: "runLoop", url: BUNDLE, lineNumber: 0, columnNumber: 3 }, maps))
      .toEqual({ functionName: "runLoop", source: "node_modules/effect/src/internal/fiberRuntime.ts", line: 11 })
    expect(frameOf({ functionName: "handler", url: BUNDLE, lineNumber: 0, columnNumber: 22 }, maps))
      .toEqual({ functionName: "handler", source: "src/http/server/RequestHandler.ts", line: 6 })
    expect(frameOf({ functionName: "writevGeneric", url: "node:internal/stream_base_commons", lineNumber: 122, columnNumber: 0 }, maps))
      .toEqual({ functionName: "writevGeneric", source: "node:internal/stream_base_commons", line: 123 })
    expect(frameOf({ functionName: "(garbage collector)", url: "", lineNumber: -1, columnNumber: -1 }, maps))
      .toEqual({ functionName: "(garbage collector)", source: "(garbage collector)", line: 0, pseudo: true })
  })

  it("sources read as the reader knows them, wherever node_modules was when the bundle was built", () => {
    expect(normalizeSource("../../main/node_modules/effect/src/internal/core.ts")).toBe("node_modules/effect/src/internal/core.ts")
    expect(normalizeSource("swagger-ui-assets:/work/main/node_modules/@effect/platform/dist/esm/internal/httpApiSwagger.js"))
      .toBe("node_modules/@effect/platform/dist/esm/internal/httpApiSwagger.js")
    expect(normalizeSource("../src/http/RequestLifecycle.ts")).toBe("src/http/RequestLifecycle.ts")
  })
})

describe("self time by frame", () => {
  const entries = entriesOf(profile, maps)
  const msOf = (predicate: (entry: Entry) => boolean) => entries.filter(predicate).reduce((sum, entry) => sum + entry.ms, 0)

  it("charges each sample the time to the next one, to the frame on top of the stack", () => {
    expect(profiledMs(profile)).toBe(16)
    expect(msOf(() => true)).toBe(16)
    expect(msOf((entry) => entry.frame.functionName === "runLoop" && entry.native === undefined)).toBe(3)
    expect(msOf((entry) => entry.frame.functionName === "handler")).toBe(2)
    expect(entries.find((entry) => entry.frame.functionName === "runLoop")?.stack.map((caller) => caller.functionName)).toEqual(["handler"])
  })

  it("a native function is charged to its nearest caller with a source, keeping its name", () => {
    const writev = entries.find((entry) => entry.native === "writev")
    expect(writev).toMatchObject({ ms: 4, frame: { functionName: "writevGeneric", source: "node:internal/stream_base_commons" } })
    expect(writev?.stack.map((caller) => caller.functionName)).toEqual(["handler"])
  })

  it("keeps only the samples of a window (the load's), on the profile's clock", () => {
    // 1 s + 3.5 ms to 1 s + 9.5 ms: the samples at 4..9 ms (handler, writev x4, writevGeneric).
    const window = withinWindow(profile, 1_003_500, 1_009_500)
    expect(window?.samples).toEqual([2, 5, 5, 5, 5, 4])
    const inWindow = entriesOf(window!, maps)
    expect(inWindow.reduce((sum, entry) => sum + entry.ms, 0)).toBe(5) // the last sample is charged nothing
    expect(withinWindow(profile, 2_000_000, 3_000_000)).toBeUndefined()
  })
})

describe("buckets", () => {
  const entries = entriesOf(profile, maps)
  const buckets = bucketize(entries, requestBuckets)

  it("puts each entry in the first bucket whose rule matches, largest first, with shares and top functions", () => {
    expect(buckets.map(({ bucket, ms }) => [bucket, ms])).toEqual([
      ["idle", 5],
      ["socket writes (native writev/write)", 4],
      ["Effect fiber runtime", 3],
      ["our src/http (request handler, lifecycle, routes)", 2],
      ["node:http/net internals (parser callbacks, outgoing, streams, sockets)", 1],
      ["GC", 1]
    ])
    expect(buckets[1]?.share).toBe(4 / 16)
    expect(buckets[2]?.top).toEqual([{ name: "runLoop (node_modules/effect/src/internal/fiberRuntime.ts:11)", ms: 3 }])
    expect(topFunctions(entries.filter((entry) => !entry.frame.pseudo), 2, 16)).toEqual([
      { name: "writev <- writevGeneric (node:internal/stream_base_commons:123)", ms: 4, share: 0.25 },
      { name: "runLoop (node_modules/effect/src/internal/fiberRuntime.ts:11)", ms: 3, share: 3 / 16 }
    ])
  })

  it("a start's profile tells module evaluation (under dist/main.js, outside any fiber) from effects run at start", () => {
    const entry = (source: string, stack: Array<string>): Entry =>
      ({ ms: 1, frame: { functionName: "f", source, line: 1 }, stack: stack.map((caller) => ({ functionName: "g", source: caller, line: 1 })) })
    const bucketOf = (e: Entry) => bucketize([e], startupBuckets)[0]?.bucket
    expect(bucketOf(entry("node_modules/effect/src/Schema.ts", ["dist/main.js"]))).toBe("module evaluation: effect")
    expect(bucketOf(entry("src/config/env.ts", ["dist/main.js"]))).toBe("module evaluation: our src")
    expect(bucketOf(entry("node_modules/effect/src/Schema.ts", ["dist/main.js", "node_modules/effect/src/internal/fiberRuntime.ts"]))).toBe("Effect Schema (config, API declaration)")
    expect(bucketOf(entry("node_modules/better-sqlite3/lib/methods/pragma.js", ["node_modules/effect/src/internal/fiberRuntime.ts"]))).toBe("job store (SQLite open, migrations)")
    expect(bucketOf(entry("node:vm", ["dist/main.js"]))).toBe("load the bundle (dist/main.js: read it, vm.Script compile or code-cache deserialize)")
  })

  it("every bucket has its levers in bench/levers.mjs, and levers name no bucket that does not exist", () => {
    const names = [...requestBuckets, ...startupBuckets].map(([name]) => name)
    for (const name of [...names, "other"]) expect(leverFor(name), name).not.toContain("no lever recorded")
    expect(Object.keys(levers).filter((name) => !names.includes(name) && name !== "other")).toEqual([])
  })
})

describe("the section", () => {
  const entries = entriesOf(profile, maps)
  const run = (requests: number) => ({ requests, reqPerSec: requests, totalMs: 16, buckets: bucketize(entries, requestBuckets, 16), top: topFunctions(entries, 3, 16) })
  const hello: Result = {
    name: "hello", title: "GET /healthz throughput", unit: "req/s", servers: ["raw", "stock", "service"],
    values: { raw: 40_000, stock: 6_000, service: 8_000 }, goal: atLeast(">= 0.35x raw and >= 1.5x stock", [0.35, "raw"], [1.5, "stock"])
  }
  const startup: Result = { name: "startup", title: "start to first 200", unit: "ms", servers: ["raw", "stock", "service"], values: { raw: 47, stock: 900, service: 200 }, goal: atMost("<= 3x raw", 3, "raw") }
  const memory: Result = { name: "ws-memory", title: "WebSocket memory per idle connection", unit: "KB", servers: ["rawWs", "service"], values: { rawWs: 8, service: 26 }, goal: atMostAbsolute("<= 25 KB", 25) }
  const cpu = {
    raw: { requests: 100_000, process: 15, system: 4, mainThread: 12, mainThreadWaiting: 2, reads: 1, writes: 1, sleeps: 0.02, preemptions: 0.01 },
    service: { requests: 20_000, process: 70, system: 11, mainThread: 55, mainThreadWaiting: 9.5, reads: 1.02, writes: 2, sleeps: 0.3, preemptions: 0.125 }
  }
  const text = renderWhereTheTimeGoes({
    mode: "missed",
    tookS: 31,
    profiled: [
      { result: hello, profile: { kind: "throughput", path: "/healthz", service: run(8_000), raw: run(40_000), rawSeconds: 2, cpu, notes: [] } },
      {
        result: startup,
        profile: {
          kind: "startup", starts: 3, firstOkMs: 260, totalMs: 16, buckets: bucketize(entries, startupBuckets, 16), top: topFunctions(entries, 3, 16), notes: [],
          phases: [{ phase: "spawn to the profiler's start (process, Node bootstrap)", ms: 30 }]
        }
      },
      { result: memory, profile: { kind: "memory", connections: 5_000, rows: [{ key: "service", label: "this service", rss: 26, heapUsed: 15, external: -0.01, rest: 10.8, heapCommitted: 40 }] } }
    ]
  })!
  const row = (start: string) => text.split("\n").find((line) => line.startsWith(`| ${start} |`))

  it("heads each profiled figure with its value, ratio and goal, and states the method", () => {
    expect(text).toMatch(/^## Where the time goes\n\nGenerated by this run for the figures that missed their goal/)
    expect(text).toContain("The profiling took 31 s.")
    expect(text).toContain("### GET /healthz throughput (missed: 8,000 req/s, 0.20x raw; goal >= 0.35x raw and >= 1.5x stock)")
    expect(text).toContain("### start to first 200 (missed: 200 ms, 4.26x raw; goal <= 3x raw)")
    expect(text).toContain("### WebSocket memory per idle connection (missed: 26 KB, 3.25x raw ws; goal <= 25 KB)")
  })

  it("gives CPU per request against raw, and each bucket's share of busy time as µs of the measured CPU, with its lever", () => {
    expect(row("this service")).toBe("| this service | 55.0 | 4.58x | 9.5 | 70.0 | 4.67x | 11.0 | 1.02 | 2.00 | 0.30 | 0.13 |")
    // Busy = 16 ms - 5 ms idle = 11 ms; socket writes 4 of them: 36.4% of 55 µs = 20.0 µs; raw the same shares of 12 µs.
    expect(row("socket writes (native writev/write)")).toBe(
      `| socket writes (native writev/write) | 36.4% | 20.0 | 36.4% | 4.4 | writev <- writevGeneric (node:internal/stream_base_commons:123) | ${leverFor("socket writes (native writev/write)")} |`
    )
    expect(row("idle")).toContain("| idle | (31.3% of all) | (waiting) |")
    expect(row("**busy (all but idle)**")).toBe("| **busy (all but idle)** | 100% | **55.0** | 100% | **12.0** |  |  |")
  })

  it("gives a start's phases and buckets in ms, and memory per connection split into heap, external and the rest", () => {
    expect(text).toContain("3 starts profiled with `--cpu-prof --cpu-prof-interval=200` (µs) to the first 200, the median at 260 ms with the profiler on (the figure's median without it: 200 ms).")
    expect(row("spawn to the profiler's start (process, Node bootstrap)")).toBe("| spawn to the profiler's start (process, Node bootstrap) | 30.0 |")
    expect(row("GC during start")).toMatch(/^\| GC during start \| 6\.3% \| 1\.0 \| \(garbage collector\) \| /)
    // A change of -0.01 KB prints as 0.0, not -0.0.
    expect(text).toContain("| this service | 26.0 | 15.0 | 0.0 | 10.8 | 40.0 |")
  })

  it("nothing profiled, no section; bench/RESULTS.md puts it after the figures, before the goals not measured", () => {
    expect(renderWhereTheTimeGoes({ mode: "missed", tookS: 0, profiled: [] })).toBeUndefined()
    const results = renderBench({
      run: { commit: "abc1234", date: "2026-12-01T06:45:00Z", machine: "2 CPUs (test)", load: "1.0 / 1.0 / 1.0" },
      options: "5 s per load figure", results: [hello], notes: [], unmeasuredGoals: ["broadcast"], tookS: 100, whereTheTimeGoes: text
    })
    expect(results.indexOf("## This service against raw")).toBeLessThan(results.indexOf("## Where the time goes"))
    expect(results.indexOf("## Where the time goes")).toBeLessThan(results.indexOf("## Goals this bench does not measure yet"))
    expect(renderBench({ run: { commit: "abc1234", date: "d", machine: "m", load: "l" }, options: "o", results: [hello], notes: [], unmeasuredGoals: [], tookS: 1 }))
      .not.toContain("Where the time goes")
  })
})
