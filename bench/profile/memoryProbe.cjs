// Preloaded (node --require) into a server the bench profiles for memory: on SIGUSR2 it collects
// garbage (when started with --expose-gc, so heapUsed is what is live) and writes
// process.memoryUsage() to the file BENCH_MEMORY_PROBE names, so that the bench sees how much of
// the RSS is V8's heap, external (Buffers, ArrayBuffers) or neither, without a route for it in the
// service. Only the bench's own profiling run loads it; the figures run the servers as they are.
// Owns: one SIGUSR2 listener (which neither the service nor Node uses) for the life of the process.
"use strict"
const Fs = require("node:fs")

const file = process.env.BENCH_MEMORY_PROBE
delete process.env.BENCH_MEMORY_PROBE
if (file !== undefined) {
  process.on("SIGUSR2", () => {
    globalThis.gc?.()
    Fs.writeFileSync(file, JSON.stringify({ at: Date.now(), ...process.memoryUsage() }))
  })
}
