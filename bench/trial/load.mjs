// The trial's load, all through one address (HAProxy): keep-alive HTTP clients, POST /jobs posters
// (every 202'd id remembered) and WebSocket clients that broadcast and reconnect on close 1001.
// A failed request is any answer but 2xx/429, or a socket error (reset, hang-up) on the way.
import http from "node:http"
import WebSocket from "ws"

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** One request on `agent`; resolves { status, body } or { error } (never rejects). */
const request = (agent, port, method, path, body) =>
  new Promise((resolve) => {
    const req = http.request({ host: "127.0.0.1", port, method, path, agent, headers: body === undefined ? {} : { "content-type": "application/json" } }, (res) => {
      let text = ""
      res.setEncoding("utf8").on("data", (chunk) => {
        text += chunk
      })
      res.once("end", () => resolve({ status: res.statusCode, body: text, replica: res.headers["x-replica"] }))
      res.once("error", (error) => resolve({ error: `response: ${error.code ?? error.message}` }))
    })
    req.once("error", (error) => resolve({ error: error.code ?? error.message }))
    req.setTimeout(30_000, () => req.destroy(new Error("client timeout 30 s")))
    req.end(body === undefined ? undefined : JSON.stringify(body))
  })

export const makeStats = () => ({ sent: 0, ok: 0, tooMany: 0, failed: 0, failures: [] })

const record = (stats, answer, what) => {
  stats.sent += 1
  if (answer.error === undefined && answer.status >= 200 && answer.status < 300) stats.ok += 1
  else if (answer.status === 429) stats.tooMany += 1
  else {
    stats.failed += 1
    if (stats.failures.length < 20) {
      stats.failures.push({ at: performance.now(), what, ...(answer.error === undefined ? { status: answer.status, replica: answer.replica, body: answer.body.slice(0, 200) } : { error: answer.error }) })
    }
  }
}

/** `count` keep-alive clients, each one request at a time (GET /sleep?ms=5 and /healthz in turn). */
export const httpClients = (port, count, stats, running) =>
  Array.from({ length: count }, async (_, i) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    for (let n = 0; running(); n++) {
      const path = (n + i) % 2 === 0 ? "/sleep?ms=5" : "/healthz"
      record(stats, await request(agent, port, "GET", path), `GET ${path}`)
    }
    agent.destroy()
  })

/** `count` keep-alive posters: POST /jobs {ms: 50..300}, one at a time with a pause of `pauseMs`. */
export const posters = (port, count, pauseMs, stats, acked, running) =>
  Array.from({ length: count }, async (_, poster) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    for (let n = 0; running(); n++) {
      const answer = await request(agent, port, "POST", "/jobs", { ms: 50 + Math.floor(Math.random() * 250), payload: { poster, n } })
      record(stats, answer, "POST /jobs")
      if (answer.status === 202) acked.push(JSON.parse(answer.body).id)
      await sleep(pauseMs)
    }
    agent.destroy()
  })

/**
 * `count` WebSocket clients. Each broadcasts `{from, seq}` every `everyMs` while open and reconnects
 * after a close (1001 expected, others counted). Everything is recorded for the accounting done in
 * `broadcastFigures`: every send (who, when, on which replica) and every connection (replica, open and
 * close time, what it received).
 */
export const wsClients = (port, count, everyMs, running) => {
  // The Redis channel is shared with whatever else runs on that Redis: only our frames are counted.
  const trial = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`
  const sends = []
  const clients = Array.from({ length: count }, (_, id) => ({ id, sent: 0, connections: [], reconnects: 0, closeCodes: {}, upgradeFailures: 0, errorFrames: 0 }))
  const connect = (client) =>
    new Promise((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
      // closingAt: when the trial itself began to close it (the end); code: the close code.
      const connection = { replica: null, openAt: null, closeAt: null, closingAt: null, code: null, received: [] }
      let timer
      ws.once("upgrade", (res) => {
        connection.replica = res.headers["x-replica"] ?? "?"
      })
      ws.once("open", () => {
        connection.openAt = performance.now()
        client.connections.push(connection)
        timer = setInterval(() => {
          if (ws.readyState !== WebSocket.OPEN) return
          const seq = client.sent++
          sends.push({ from: client.id, seq, replica: connection.replica, at: performance.now(), connection })
          ws.send(JSON.stringify({ type: "broadcast", data: { trial, from: client.id, seq } }))
        }, everyMs)
      })
      ws.on("message", (data) => {
        const frame = JSON.parse(String(data))
        if (frame.type === "broadcast" && frame.data?.trial === trial) connection.received.push(`${frame.data.from}:${frame.data.seq}`)
        else if (frame.type === "error") client.errorFrames += 1
      })
      ws.once("error", () => {
        if (connection.openAt === null) client.upgradeFailures += 1
      })
      ws.once("close", (code) => {
        clearInterval(timer)
        if (connection.openAt !== null) {
          connection.closeAt = performance.now()
          connection.code = code
          client.closeCodes[code] = (client.closeCodes[code] ?? 0) + 1
        }
        resolve(connection.openAt !== null)
      })
      client.close = () => {
        connection.closingAt ??= performance.now()
        ws.close(1000)
      }
    })
  const loops = clients.map(async (client) => {
    while (running()) {
      const wasOpen = await connect(client)
      if (!running()) break
      if (wasOpen) client.reconnects += 1
      else await sleep(100) // the upgrade failed (no replica up for a moment): try again shortly
    }
  })
  return { clients, sends, loops, closeAll: () => clients.forEach((client) => client.close?.()) }
}

/** When a connection stopped being usable: its close, or the trial's own close if that came first. */
const endOf = (connection) => Math.min(connection.closeAt ?? Infinity, connection.closingAt ?? Infinity, performance.now())

/** Why an expected broadcast may be missing: the close of the sender's or receiver's socket soon after. */
const causeOf = (send, receiver, edgeMs) => {
  const near = (connection) => connection.closeAt !== null && connection.closeAt - send.at <= edgeMs
  const label = (connection) => (connection.closingAt !== null ? "1000 at the trial's end" : String(connection.code))
  if (near(receiver)) return `receiver's socket closed (${label(receiver)}) within ${edgeMs} ms`
  if (near(send.connection)) return `sender's socket closed (${label(send.connection)}) within ${edgeMs} ms`
  return "neither socket closed soon after (unexplained)"
}

/**
 * Per client: broadcasts sent, received, and received of those expected. Expected: the broadcasts
 * sent (by anyone, itself included) while this client was connected, at least `marginMs` after its
 * open and before its close, and at least `marginMs` before the sender's own close (a message in
 * flight at either edge may fairly miss it: a frame that reaches a replica after it said 1001 is
 * not read); a close is the socket's, or the trial's own at the end if that came first. With
 * `crossReplica` false only those sent on the replica the client was connected to. Every missing
 * one is pushed to `missed` with its cause: whether the receiver's or the sender's socket closed
 * within `edgeMs` of the send (at-most-once: a broadcast in flight then is not redelivered).
 */
export const broadcastFigures = ({ clients, sends }, crossReplica, marginMs = 200, missed = [], edgeMs = 1_000) =>
  clients.map((client) => {
    let expected = 0
    let missing = 0
    let duplicates = 0
    let received = 0
    for (const connection of client.connections) {
      const got = new Map()
      for (const key of connection.received) got.set(key, (got.get(key) ?? 0) + 1)
      received += connection.received.length
      duplicates += [...got.values()].filter((n) => n > 1).length
      const closeAt = endOf(connection)
      for (const send of sends) {
        if (send.at < connection.openAt + marginMs || send.at > closeAt - marginMs) continue
        if (!crossReplica && send.replica !== connection.replica) continue
        // Sent in the sender's last moments (its replica may already have said 1001 and stopped reading).
        if (send.at > endOf(send.connection) - marginMs) continue
        expected += 1
        if (!got.has(`${send.from}:${send.seq}`)) {
          missing += 1
          missed.push({ at: send.at, from: send.from, sentOn: send.replica, to: client.id, on: connection.replica, openAt: connection.openAt, closeAt: connection.closeAt, cause: causeOf(send, connection, edgeMs) })
        }
      }
    }
    return { client: client.id, sent: client.sent, received, expected, missing, duplicates, reconnects: client.reconnects, closeCodes: JSON.stringify(client.closeCodes), upgradeFailures: client.upgradeFailures, errorFrames: client.errorFrames }
  })
