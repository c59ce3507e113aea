// Which part of the stack a profile entry (bench/profile/cpuProfile.mjs) belongs to: the buckets
// "Where the time goes" in bench/RESULTS.md reports, one list for serving requests and one for
// starting. Each list is ordered: the first rule that matches an entry takes it, "other" the rest.
// The names are the keys of bench/levers.mjs (what is known to shrink each bucket).
// Owns: the rules only; the times come from the run's profile.

const effect = (files) => new RegExp(`^node_modules/effect/(src|dist/(esm|cjs))/(${files})\\.(ts|js)$`)
const matchSource = (pattern) => (entry) => pattern.test(entry.frame.source)
const pseudo = (name) => (entry) => entry.frame.pseudo === true && entry.frame.source === name

/** The fiber runtime: running an effect's steps (fiber loop, core constructors, Effect.gen, the scheduler). */
const fiberRuntime = effect(
  "internal/(fiberRuntime|core|core-effect|runtime|runtimeFlags|runtimeFlagsPatch|fiberScope|fiberMessage|fiberStatus|fiberId|fiber|effectable|singleShotGen|deferred|executionStrategy|completedRequestMap|concurrency|effect/circular|opCodes/\\w+)|Scheduler|Effectable|Utils|Function|Pipeable|Effect|Exit|Fiber|FiberId"
)
const contextAndFiberRefs = effect("internal/(context|fiberRefs|fiberRefs/patch|fiberRef)|Context|FiberRefs|FiberRef|FiberRefsPatch")
const effectMetrics = effect("internal/metric(/\\w+)?|Metric\\w*")
const effectTracing = effect("internal/tracer|Tracer")
const effectClock = effect("internal/clock|Clock|internal/defaultServices(/\\w+)?|Duration")
const effectLogging = effect("internal/(logger|logger-circular|logSpan)|Logger|LogLevel|LogSpan")
const effectSchema = effect("internal/schema/\\w+|Schema|SchemaAST|ParseResult")
const nodeHttpNet = /^node:(_http_\w+|http|net|stream|internal\/(streams\/\w+|stream_base_commons|http|net|dns|url))$/

const socketWrite = /^(writev|writeBuffer|write\w*String|shutdown)$/

/** Buckets for a profile taken while the service serves a load (the throughput figures). */
export const requestBuckets = [
  ["GC", pseudo("(garbage collector)")],
  ["idle", pseudo("(idle)")],
  ["V8/native outside JS (program)", pseudo("(program)")],
  ["socket writes (native writev/write)", (entry) => entry.native !== undefined && socketWrite.test(entry.native) && entry.frame.source.startsWith("node:")],
  ["node:http/net internals (parser callbacks, outgoing, streams, sockets)", matchSource(nodeHttpNet)],
  ["node: other (events, timers, microtask queue)", matchSource(/^node:/)],
  ["Effect fiber runtime", matchSource(fiberRuntime)],
  ["Effect Context/FiberRefs", matchSource(contextAndFiberRefs)],
  ["metrics", (entry) => effectMetrics.test(entry.frame.source) || /^src\/(observability\/(HttpMetrics|CoreMetrics|Prometheus|ProcessSampler)|http\/WireMetrics)\.ts$/.test(entry.frame.source)],
  ["tracing", (entry) => effectTracing.test(entry.frame.source) || /^node_modules\/@effect\/platform\/(src|dist\/\w+)\/(HttpTraceContext|internal\/httpTraceContext)\./.test(entry.frame.source)],
  ["logging", (entry) => effectLogging.test(entry.frame.source) || /^src\/(observability\/(JsonLogger|LogStream)|http\/AccessLog)\.ts$/.test(entry.frame.source)],
  ["Effect Schema (decode/encode)", matchSource(effectSchema)],
  ["Effect clock and timers (Effect.sleep, timestamps)", matchSource(effectClock)],
  ["find-my-way-ts (routing)", matchSource(/^node_modules\/find-my-way-ts\//)],
  ["@effect/platform(-node) (HttpApp, router, request/response)", matchSource(/^node_modules\/@effect\/platform(-node)?\//)],
  ["our src/http (request handler, lifecycle, routes)", matchSource(/^src\/http\//)],
  ["our src, other", matchSource(/^src\//)],
  ["Effect, other modules (Option, HashMap, Equal, Chunk...)", matchSource(/^node_modules\/effect\//)],
  ["other packages", matchSource(/^node_modules\//)],
  ["the baseline's handler (bench/servers)", matchSource(/^bench\/servers\//)]
]

/** Whether the entry ran under dist/main.js's synchronous evaluation of the bundle. */
const inModuleEvaluation = (entry) => entry.stack.some((frame) => /(^|\/)dist\/main\.js$/.test(frame.source)) &&
  !entry.stack.some((frame) => fiberRuntime.test(frame.source))
const packageOf = (source) => /^node_modules\/((@[^/]+\/)?[^/]+)/.exec(source)?.[1] ?? (source.startsWith("src/") ? "src" : "other")

/** Buckets for a profile of one start, from Node's bootstrap to the first 200. */
export const startupBuckets = [
  ["GC during start", pseudo("(garbage collector)")],
  ["idle (waiting on I/O)", pseudo("(idle)")],
  ["V8/native outside JS (program)", pseudo("(program)")],
  ["load the bundle (dist/main.js: read it, vm.Script compile or code-cache deserialize)", matchSource(/^(node:vm|dist\/main\.js)$/)],
  ["Node's own code (bootstrap, module loader, fs, sockets, the first request)", matchSource(/^node:/)],
  ["module evaluation: effect", (entry) => inModuleEvaluation(entry) && packageOf(entry.frame.source) === "effect"],
  ["module evaluation: @effect/*", (entry) => inModuleEvaluation(entry) && packageOf(entry.frame.source).startsWith("@effect/")],
  ["module evaluation: our src", (entry) => inModuleEvaluation(entry) && packageOf(entry.frame.source) === "src"],
  ["module evaluation: other packages", inModuleEvaluation],
  ["job store (SQLite open, migrations)", matchSource(/^(src\/jobs\/|node_modules\/(better-sqlite3|@effect\/sql(-sqlite-node)?)\/)/)],
  ["layer construction (Effect Layer, MemoMap)", matchSource(effect("internal/layer(/\\w+)?|Layer"))],
  ["Effect fiber runtime (running startup effects)", matchSource(fiberRuntime)],
  ["Effect Context/FiberRefs", matchSource(contextAndFiberRefs)],
  ["Effect Schema (config, API declaration)", matchSource(effectSchema)],
  ["@effect/platform(-node) (HttpApi, router, server)", matchSource(/^node_modules\/@effect\/platform(-node)?\//)],
  ["our src (layers and startup code)", matchSource(/^src\//)],
  ["Effect, other modules", matchSource(/^node_modules\/effect\//)],
  ["other packages", matchSource(/^node_modules\//)]
]
