// HTTP figures: throughput, tail latency, start to first 200, idle memory.
import { load, median, rssOf, servers, sleep, start } from "../lib.mjs"

const warm = (port) => load({ url: `http://127.0.0.1:${port}/healthz`, connections: 10, amount: 2_000 })

/** Runs `measure(running)` against a freshly started server, then stops it. */
const withServer = async (key, measure) => {
  const running = await start(servers[key])
  try {
    return await measure(running)
  } finally {
    await running.stop()
  }
}

export const http = (duration) => ({
  hello: {
    title: `hello throughput, 50 connections, ${duration} s`,
    unit: "req/s",
    better: "higher",
    target: ">= stock's ratio (stock measured earlier at ~0.20); aim 0.35",
    servers: ["raw", "stock", "service"],
    measure: (key) =>
      withServer(key, async ({ port }) => {
        await warm(port)
        return (await load({ url: `http://127.0.0.1:${port}/healthz`, connections: 50, duration })).requests.average
      })
  },
  p99: {
    title: `p99 latency, 100 connections, ${duration} s`,
    unit: "ms",
    better: "lower",
    target: "<= 4x raw (stock measured earlier at ~25x)",
    servers: ["raw", "stock", "service"],
    measure: (key) =>
      withServer(key, async ({ port }) => {
        await warm(port)
        return (await load({ url: `http://127.0.0.1:${port}/healthz`, connections: 100, duration })).latency.p99
      })
  },
  startup: {
    title: "start to first 200 (median of 5 starts)",
    unit: "ms",
    better: "lower",
    target: "<= 4x raw (stock measured earlier at ~11x)",
    servers: ["raw", "stock", "service"],
    measure: async (key) => {
      const times = []
      for (let i = 0; i < 5; i++) {
        const running = await start(servers[key])
        for (;;) {
          const ok = await fetch(`http://127.0.0.1:${running.port}/healthz`).then((r) => r.ok, () => false)
          if (ok) break
        }
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
    target: "<= 2x raw",
    servers: ["raw", "stock", "service"],
    measure: (key) =>
      withServer(key, async ({ child, port }) => {
        await warm(port)
        await sleep(1_000)
        return (await rssOf(child.pid)) / 1e6
      })
  }
})
