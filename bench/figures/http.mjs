// HTTP figures: throughput, tail latency, start to first 200, idle memory.
import { cpuOf, cpuPerRequest, ioOf, load, median, notes, rssOf, servers, sleep, start } from "../lib.mjs"
import { atLeast, atMost } from "../goals.mjs"

export const warm = (port) => load({ url: `http://127.0.0.1:${port}/healthz`, connections: 10, amount: 2_000 })

/** Asks GET /healthz until it answers 2xx (a server listening may not serve yet): the first 200. */
export const untilFirstOk = async (port) => {
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((response) => response.ok, () => false)
    if (ok) return
  }
}

/** Runs `measure(running)` against a freshly started server, then stops it. */
const withServer = async (key, measure) => {
  const running = await start(servers[key])
  try {
    return await measure(running)
  } finally {
    await running.stop()
  }
}

const throughput = (key, path, duration) =>
  withServer(key, async ({ child, port }) => {
    await warm(port)
    const [before, ioBefore] = [await cpuOf(child.pid), await ioOf(child.pid)]
    const result = await load({ url: `http://127.0.0.1:${port}${path}`, connections: 50, duration })
    const [after, ioAfter] = [await cpuOf(child.pid), await ioOf(child.pid)]
    const requests = result.requests.total
    const byServer = (cpuPerRequest[path] ??= {})
    byServer[key] = {
      requests,
      process: (after.process - before.process) / requests,
      system: (after.system - before.system) / requests,
      mainThread: (after.mainThread - before.mainThread) / requests,
      mainThreadWaiting: (after.mainThreadWaiting - before.mainThreadWaiting) / requests,
      reads: (ioAfter.reads - ioBefore.reads) / requests,
      writes: (ioAfter.writes - ioBefore.writes) / requests,
      sleeps: (ioAfter.sleeps - ioBefore.sleeps) / requests,
      preemptions: (ioAfter.preemptions - ioBefore.preemptions) / requests
    }
    // autocannon counts every response: a figure made of errors must say so.
    if (result.non2xx > 0 || result.errors > 0) notes.push(`${servers[key].label}, GET ${path}: ${result.non2xx} answers other than 2xx and ${result.errors} errors among the counted requests`)
    return result.requests.average
  })

export const http = (duration, starts) => ({
  hello: {
    title: `GET /healthz throughput, 50 connections, ${duration} s`,
    unit: "req/s",
    better: "higher",
    goal: atLeast(">= 0.35x raw and >= 1.5x stock", [0.35, "raw"], [1.5, "stock"]),
    servers: ["raw", "stock", "service"],
    measure: (key) => throughput(key, "/healthz", duration)
  },
  // An API route that decodes its input (the query's `ms`, a bounded integer) and sleeps 0 ms.
  decode: {
    title: `GET /sleep?ms=0 throughput (decodes its input), 50 connections, ${duration} s`,
    unit: "req/s",
    better: "higher",
    goal: atLeast(">= 0.35x raw and >= 1.5x stock", [0.35, "raw"], [1.5, "stock"]),
    servers: ["raw", "stock", "service"],
    measure: (key) => throughput(key, "/sleep?ms=0", duration)
  },
  p99: {
    title: `p99 latency, GET /healthz, 100 connections, ${duration} s`,
    unit: "ms",
    better: "lower",
    goal: atMost("<= 3x raw", 3, "raw"),
    servers: ["raw", "stock", "service"],
    measure: (key) =>
      withServer(key, async ({ port }) => {
        await warm(port)
        return (await load({ url: `http://127.0.0.1:${port}/healthz`, connections: 100, duration })).latency.p99
      })
  },
  startup: {
    title: `start to first 200 (median of ${starts} starts)`,
    unit: "ms",
    better: "lower",
    goal: atMost("<= 3x raw", 3, "raw"),
    servers: ["raw", "stock", "service"],
    measure: async (key) => {
      const times = []
      for (let i = 0; i < starts; i++) {
        const running = await start(servers[key])
        await untilFirstOk(running.port)
        times.push(performance.now() - running.startedAt)
        await running.stop()
      }
      return median(times)
    }
  },
  rss: {
    title: "idle RSS after 2,000 requests",
    unit: "MB",
    better: "lower",
    goal: atMost("<= 1.7x raw", 1.7, "raw"),
    servers: ["raw", "stock", "service"],
    measure: (key) =>
      withServer(key, async ({ child, port }) => {
        await warm(port)
        await sleep(1_000)
        return (await rssOf(child.pid)) / 1e6
      })
  }
})
