// What is known to shrink each bucket of "Where the time goes" (bench/profile/buckets.mjs names
// them): printed beside the shares the run measured, so that a missed goal comes with where to
// push. Knowledge, not measurement: no number here, the shares come from the profile of the run.
// A lever is a direction, not a promise: a change made on one is kept only with its own same-run
// A/B figure (issue 21). "irreducible" says raw node:http pays the same, so the bucket can only
// shrink with the work around it.

/** Bucket name -> what would remove or shrink it. */
export const levers = {
  // Serving requests.
  GC: "fewer allocations per request: fewer Effect steps (each allocates), no per-request closures, Context or FiberRefs copies; reuse header objects",
  idle: "not CPU: the service waited on the load generator (same machine, 2 cores); a larger share means the figure is bound elsewhere",
  "V8/native outside JS (program)": "mostly irreducible (V8 itself, llhttp parsing, libuv); raw node:http pays the same kind",
  "socket writes (native writev/write)": "not fewer writes (writes/request: one per response, as raw). A write to loopback wakes the load generator: the samples include the kernel's switch to it and the wait for the CPU back (\"waiting for a CPU\", preemptions/request; perf record on this 2-core machine put the kernel part in task switching and irq restore, not in the copy). A bench artefact as much as a cost; not a lever in our code",
  "node:http/net internals (parser callbacks, outgoing, streams, sockets)": "irreducible per request (raw node:http pays the same); only fewer calls into it (one setHeader/writeHead, one end) help",
  "node: other (events, timers, microtask queue)": "fewer async hops per request (each promise or setImmediate hop costs a queue turn); no per-request timers",
  "Effect fiber runtime": "fewer Effect steps per request: fold middleware into one effect, Effect.sync over Effect.gen on the hot path, no per-request forks or Deferreds, a larger scheduler batch",
  "Effect Context/FiberRefs": "fewer Context.add / provideService and FiberRef.locally (each copies a map); set once per fiber, not per step",
  metrics: "record per request once (counter and histogram updated together), tags built once per route, not per request",
  tracing: "no span per request when nothing exports them (trace ids only), or a cheaper span; no per-request attribute maps",
  logging: "nothing logged per request at the default level; annotations built lazily",
  "Effect Schema (decode/encode)": "decode with a compiled decoder (Schema.decodeUnknownSync made once), a smaller schema on the hot route, no encode of a constant response",
  "Effect clock and timers (Effect.sleep, timestamps)": "the /sleep route's own timer (raw pays a setTimeout too); clock reads once per request, not per span and metric",
  "the baseline's handler (bench/servers)": "the raw server's own code: the floor every server pays",
  "find-my-way-ts (routing)": "routing is small per request; fewer routes or static-path lookup first",
  "@effect/platform(-node) (HttpApp, router, request/response)": "fewer platform layers per request (middleware, HttpApp wrappers); answer with a prebuilt response where the body is constant",
  "our src/http (request handler, lifecycle, routes)": "see the top functions: each listed one is ours to make cheaper",
  "our src, other": "see the top functions",
  "Effect, other modules (Option, HashMap, Equal, Chunk...)": "fewer data-structure copies per request (HashMap/Chunk built per request, structural Equal)",
  "other packages": "see the top functions",
  other: "unclassified: see the top functions",
  // Starting.
  "idle (waiting on I/O)": "not CPU: file reads, the listening socket, the first request's round trip",
  "GC during start": "fewer objects built at start (schemas, layers, the API's router and document built at first use)",
  "load the bundle (dist/main.js: read it, vm.Script compile or code-cache deserialize)": "a smaller bundle (fewer modules bundled), a code cache that covers more of the start (dist/app.cache)",
  "Effect, other modules": "see the top functions (config reading, metric and tracer registration at start)",
  "Node's own code (bootstrap, module loader, fs, sockets, the first request)": "mostly irreducible (raw node:http pays the bootstrap and the request too); less for fewer require() and fs calls at start",
  "module evaluation: effect": "fewer Effect modules bundled (deep imports, no barrel), fewer top-level constants built at load",
  "module evaluation: @effect/*": "fewer platform/sql modules at start (lazy chunks for what only some configurations use)",
  "module evaluation: our src": "fewer top-level schemas and layers built at import; build them in the layer that uses them",
  "module evaluation: other packages": "lazy-load packages only some configurations use (as pg, ioredis, undici are)",
  "job store (SQLite open, migrations)": "open the store after listening, skip migrations already applied (check the schema version first)",
  "layer construction (Effect Layer, MemoMap)": "fewer, flatter layers (each Layer.provide/merge is a step and a scope)",
  "Effect fiber runtime (running startup effects)": "fewer effects at start (eager work moved to first use)",
  "Effect Schema (config, API declaration)": "fewer schemas compiled at start (HttpApi's OpenAPI document built on first GET /openapi.json)",
  "@effect/platform(-node) (HttpApi, router, server)": "building the HttpApi router is per route: fewer routes at start, or lazily registered groups",
  "our src (layers and startup code)": "see the top functions"
}

/** The lever for a bucket; a bucket without one says so (a new bucket needs its line here). */
export const leverFor = (bucket) => levers[bucket] ?? "no lever recorded (bench/levers.mjs)"

/** Part of the memory each idle WebSocket connection holds -> what would shrink it. */
export const memoryLevers = {
  heapUsed: "fewer live objects per session: one fiber and no per-session Queue/Deferred/Scope where a callback does, no per-session closures over large context",
  external: "Buffers and ArrayBuffers held per socket: no per-session read buffers kept after the handshake",
  rest: "heap pages kept after garbage (fewer allocations while connecting: the upgrade's request objects) and native socket state; compare the raw ws row, which pays the native part too"
}
