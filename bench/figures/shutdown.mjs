// SIGTERM -> exit: with nothing in flight, with 100 idle keep-alive sockets, and with 50
// in-flight /sleep?ms=500 (measured from the last response). A server that does not exit within
// 10 s is killed and reported as "no exit". Each figure is the median of `runs` runs (one GC pause
// or preemption must not decide it).
import http from "node:http"
import { exitWithin, servers, sleep, start } from "../lib.mjs"
import { atMostAbsolute } from "../goals.mjs"

const CAP_MS = 10_000

const get = (agent, port, path) =>
  new Promise((resolve, reject) => {
    const request = http.get({ host: "127.0.0.1", port, path, agent }, (response) => {
      response.resume()
      response.on("end", () => resolve(performance.now()))
    })
    request.on("error", reject)
  })

/** One run: `prepare` sets the server up and may return `{ last }`, a promise of the time of the
 * last response still to come (wrapped: an async function returning the promise itself would be
 * awaited before the signal, so nothing would be in flight). */
const once = async (key, prepare) => {
  const running = await start(servers[key])
  const agent = new http.Agent({ keepAlive: true, maxSockets: 200 })
  try {
    const afterSignal = await prepare(agent, running.port)
    const sent = performance.now()
    running.child.kill("SIGTERM")
    const exited = await exitWithin(running.child, CAP_MS)
    if (exited === null) return null
    const from = afterSignal === undefined ? sent : await afterSignal.last
    return exited - from
  } finally {
    agent.destroy()
  }
}

/** The median of `runs` runs; a run with no exit counts as the slowest (so a majority decides). */
const scenario = (runs, prepare) => async (key) => {
  const results = []
  for (let i = 0; i < runs; i++) results.push(await once(key, prepare))
  const sorted = results.map((value) => value ?? Infinity).sort((a, b) => a - b)
  const middle = sorted[Math.floor(sorted.length / 2)]
  return middle === Infinity ? null : middle
}

export const shutdown = (runs) => ({
  "sigterm-idle": {
    title: `SIGTERM -> exit, nothing in flight (median of ${runs})`,
    unit: "ms",
    better: "lower",
    goal: atMostAbsolute("<= 50 ms", 50),
    servers: ["raw", "stock", "service"],
    measure: scenario(runs, async () => undefined)
  },
  "sigterm-keepalive": {
    title: `SIGTERM -> exit, 100 idle keep-alive sockets (median of ${runs})`,
    unit: "ms",
    better: "lower",
    // Idle sockets: the idle goal.
    goal: atMostAbsolute("<= 50 ms", 50),
    servers: ["raw", "stock", "service"],
    measure: scenario(runs, async (agent, port) => {
      await Promise.all(Array.from({ length: 100 }, () => get(agent, port, "/healthz")))
      return undefined
    })
  },
  "sigterm-inflight": {
    title: `SIGTERM with 50 in-flight /sleep?ms=500 -> exit, after the last response (median of ${runs})`,
    unit: "ms",
    better: "lower",
    goal: atMostAbsolute("<= 50 ms after the last response", 50),
    servers: ["raw", "stock", "service"],
    measure: scenario(runs, async (agent, port) => {
      const responses = Array.from({ length: 50 }, () => get(agent, port, "/sleep?ms=500").catch(() => performance.now()))
      await sleep(100)
      return { last: Promise.all(responses).then((times) => Math.max(...times)) }
    })
  }
})
