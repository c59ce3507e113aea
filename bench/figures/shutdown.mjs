// SIGTERM -> exit: with nothing in flight, with 100 idle keep-alive sockets, and with 50
// in-flight /sleep?ms=500 (measured from the last response). A server that does not exit within
// 10 s is killed and reported as "no exit".
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

const scenario = (prepare) => async (key) => {
  const running = await start(servers[key])
  const agent = new http.Agent({ keepAlive: true, maxSockets: 200 })
  try {
    const afterSignal = await prepare(agent, running.port)
    const sent = performance.now()
    running.child.kill("SIGTERM")
    const exited = await exitWithin(running.child, CAP_MS)
    if (exited === null) return null
    const from = afterSignal === undefined ? sent : await afterSignal
    return exited - from
  } finally {
    agent.destroy()
  }
}

export const shutdown = {
  "sigterm-idle": {
    title: "SIGTERM -> exit, nothing in flight",
    unit: "ms",
    better: "lower",
    goal: atMostAbsolute("<= 50 ms", 50),
    servers: ["raw", "stock", "service"],
    measure: scenario(async () => undefined)
  },
  "sigterm-keepalive": {
    title: "SIGTERM -> exit, 100 idle keep-alive sockets",
    unit: "ms",
    better: "lower",
    // Idle sockets: the idle goal.
    goal: atMostAbsolute("<= 50 ms", 50),
    servers: ["raw", "stock", "service"],
    measure: scenario(async (agent, port) => {
      await Promise.all(Array.from({ length: 100 }, () => get(agent, port, "/healthz")))
      return undefined
    })
  },
  "sigterm-inflight": {
    title: "SIGTERM with 50 in-flight /sleep?ms=500 -> exit, after the last response",
    unit: "ms",
    better: "lower",
    goal: atMostAbsolute("<= 50 ms after the last response", 50),
    servers: ["raw", "stock", "service"],
    measure: scenario(async (agent, port) => {
      const responses = Array.from({ length: 50 }, () => get(agent, port, "/sleep?ms=500").catch(() => performance.now()))
      await sleep(100)
      return Promise.all(responses).then((times) => Math.max(...times))
    })
  }
}
