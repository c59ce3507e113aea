// WebSocket figures (raw ws vs this service) and fiber churn (this service).
import WebSocket from "ws"
import http from "node:http"
import { notes, rssOf, servers, sleep, start } from "../lib.mjs"
import { atLeast, atMostAbsolute } from "../goals.mjs"

const open = (port) =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
    ws.once("open", () => resolve(ws))
    ws.once("error", reject)
  })

export const openMany = async (port, count) => {
  const clients = []
  for (let i = 0; i < count; i += 200) clients.push(...(await Promise.all(Array.from({ length: Math.min(200, count - i) }, () => open(port)))))
  return clients
}

const echoFrame = (key, n) => key === "rawWs" ? `echo ${n}` : JSON.stringify({ type: "echo", data: n })

const broadcastFrame = (key, n) => key === "rawWs" ? `broadcast ${n}` : JSON.stringify({ type: "broadcast", data: n })
const isBroadcast = (key, text) => key === "rawWs" ? text.startsWith("broadcast ") : text.includes('"type":"broadcast"')
const ROUND_CAP_MS = 10_000

const ownedFibers = async (adminPort) =>
  (await (await fetch(`http://127.0.0.1:${adminPort}/debug/fibers`)).json()).fibers.filter((f) => !f.name.startsWith("GET /")).length

export const websocket = (duration, connections, sessions) => ({
  "ws-memory": {
    title: `WebSocket memory per idle connection, ${connections} connections`,
    unit: "KB",
    better: "lower",
    goal: atMostAbsolute(`<= 25 KB${connections === 5_000 ? "" : " (at 5,000 connections)"}`, 25),
    servers: ["rawWs", "service"],
    measure: async (key) => {
      const running = await start(servers[key])
      await sleep(500)
      const before = await rssOf(running.child.pid)
      const clients = await openMany(running.port, connections)
      await sleep(1_500)
      const after = await rssOf(running.child.pid)
      for (const ws of clients) ws.terminate()
      await running.stop()
      return (after - before) / connections / 1024
    }
  },
  "ws-echo": {
    title: `WebSocket echo, 50 clients in lock-step, ${duration} s`,
    unit: "msg/s",
    better: "higher",
    goal: atLeast(">= 0.5x raw ws", [0.5, "rawWs"]),
    servers: ["rawWs", "service"],
    measure: async (key) => {
      const running = await start(servers[key])
      const clients = await openMany(running.port, 50)
      let count = 0
      const until = performance.now() + duration * 1_000
      await Promise.all(clients.map((ws) =>
        new Promise((resolve) => {
          const send = () => (performance.now() < until ? ws.send(echoFrame(key, count)) : resolve())
          ws.on("message", () => {
            count += 1
            send()
          })
          send()
        })
      ))
      for (const ws of clients) ws.terminate()
      await running.stop()
      return count / duration
    }
  },
  "ws-broadcast": {
    title: `WebSocket broadcast to ${sessions} sessions, one sender in lock-step (each broadcast received by every session before the next), ${duration} s`,
    unit: "deliveries/s",
    better: "higher",
    goal: atLeast(">= 0.5x raw ws (within 2x)", [0.5, "rawWs"]),
    servers: ["rawWs", "service"],
    measure: async (key) => {
      const running = await start(servers[key])
      const receivers = await openMany(running.port, sessions)
      const [sender] = await openMany(running.port, 1)
      let pending = 0
      let roundDone = () => undefined
      for (const ws of receivers) {
        ws.on("message", (data) => {
          if (isBroadcast(key, data.toString()) && --pending === 0) roundDone()
        })
      }
      let rounds = 0
      const begun = performance.now()
      const until = begun + duration * 1_000
      while (performance.now() < until) {
        const complete = await new Promise((resolve) => {
          const timer = setTimeout(() => resolve(false), ROUND_CAP_MS)
          pending = sessions
          roundDone = () => (clearTimeout(timer), resolve(true))
          sender.send(broadcastFrame(key, rounds))
        })
        if (!complete) {
          notes.push(`${servers[key].label}: broadcast ${rounds} reached ${sessions - pending} of ${sessions} sessions within ${ROUND_CAP_MS / 1000} s; the figure counts the rounds before it`)
          break
        }
        rounds += 1
      }
      const elapsed = (performance.now() - begun) / 1_000
      for (const ws of [...receivers, sender]) ws.terminate()
      await running.stop()
      return (rounds * sessions) / elapsed
    }
  },
  churn: {
    title: "fiber churn: 10,000 requests + 1,000 WebSocket sessions; owned fibers after minus before (RSS growth, MB, in the note)",
    unit: "fibers",
    better: "lower",
    goal: { text: "0 (back to baseline)", check: (values) => (typeof values.service === "number" ? values.service === 0 : null) },
    servers: ["service"],
    measure: async () => {
      const running = await start(servers.service)
      const agent = new http.Agent({ keepAlive: true, maxSockets: 50 })
      const baseline = await ownedFibers(running.adminPort)
      const rssBefore = await rssOf(running.child.pid)
      for (let i = 0; i < 10_000; i += 50) {
        await Promise.all(Array.from({ length: 50 }, () =>
          new Promise((resolve, reject) =>
            http.get({ host: "127.0.0.1", port: running.port, path: "/healthz", agent }, (r) => r.resume().on("end", resolve)).on("error", reject)
          )))
      }
      for (let i = 0; i < 5; i++) {
        const clients = await openMany(running.port, 200)
        await Promise.all(clients.map((ws) => new Promise((resolve) => (ws.once("close", resolve), ws.close()))))
      }
      await sleep(500)
      const after = await ownedFibers(running.adminPort)
      const rssAfter = await rssOf(running.child.pid)
      const note = `churn: owned fibers ${baseline} -> ${after}; RSS ${(rssBefore / 1e6).toFixed(1)} -> ${(rssAfter / 1e6).toFixed(1)} MB`
      console.log(`  ${note}`)
      notes.push(note)
      agent.destroy()
      await running.stop()
      return after - baseline
    }
  }
})
