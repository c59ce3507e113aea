// WebSocket clients for a fleet under a rolling update (test/jobs/rolling.process.test.ts): each has a
// home replica, connects there while it is ready (elsewhere while it is not, moving back once it is),
// broadcasts a numbered frame every 100 ms and reconnects after any close. Every send and every frame
// received is recorded per connection, for `accountBroadcasts`, which checks what the fleet promises:
// each broadcast reaches every other client connected meanwhile once (at-most-once: not at a close's
// edge), none twice, in its sender's order.
import WebSocket from "ws"

export interface Replica {
  readonly name: string
  readonly port: number
  ready: boolean
}

export interface Connection {
  /** name:port of the replica (a successor on a new port is another replica). */
  readonly on: string
  readonly index: number
  openAt: number
  closeAt: number | null
  /** When this client began closing it itself (moving home, or the end): an edge like a close. */
  closingAt: number | null
  /** The close code, when the server closed it while the test was running. */
  code: number | null
  readonly sent: Array<{ readonly seq: number; readonly at: number }>
  /** Keys `from/connection/seq` of every broadcast of this run received, in order. */
  readonly received: Array<string>
}

export interface ClientRecord {
  readonly id: number
  readonly home: string
  readonly connections: Array<Connection>
  failedUpgrades: number
  errorFrames: number
}

const label = (replica: Replica) => `${replica.name}:${replica.port}`

/**
 * A client whose home is `home`; `run` tells this run's frames from others on a shared Redis channel.
 * `replicas` is read live (ports and readiness change during the roll).
 */
export const fleetWsClient = (replicas: ReadonlyArray<Replica>, id: number, home: string, run: string, running: () => boolean) => {
  const record: ClientRecord = { id, home, connections: [], failedUpgrades: 0, errorFrames: 0 }
  let current: { ws: WebSocket; connection: Connection } | undefined
  const homeReplica = () => replicas.find((replica) => replica.name === home)!
  const connectOnce = () =>
    new Promise<void>((resolve) => {
      const ready = replicas.filter((replica) => replica.ready)
      if (ready.length === 0) return void setTimeout(resolve, 20)
      const replica = ready.find((r) => r.name === home) ?? ready[0]!
      const ws = new WebSocket(`ws://127.0.0.1:${replica.port}/ws`)
      const connection: Connection = { on: label(replica), index: record.connections.length, openAt: 0, closeAt: null, closingAt: null, code: null, sent: [], received: [] }
      let timer: NodeJS.Timeout | undefined
      ws.once("open", () => {
        connection.openAt = performance.now()
        record.connections.push(connection)
        current = { ws, connection }
        timer = setInterval(() => {
          if (ws.readyState !== WebSocket.OPEN || connection.closingAt !== null) return
          // Away from home while home is ready again: go back (so both replicas keep clients).
          const back = homeReplica()
          if (back.ready && label(back) !== connection.on) {
            connection.closingAt = performance.now()
            return ws.close(1000)
          }
          const seq = connection.sent.length
          connection.sent.push({ seq, at: performance.now() })
          ws.send(JSON.stringify({ type: "broadcast", data: { run, from: id, connection: connection.index, seq, on: connection.on } }))
        }, 100)
      })
      ws.on("message", (data) => {
        const frame = JSON.parse(String(data))
        if (frame.type === "error") record.errorFrames += 1
        else if (frame.type === "broadcast" && frame.data?.run === run) connection.received.push(`${frame.data.from}/${frame.data.connection}/${frame.data.seq}`)
      })
      ws.once("error", () => {
        if (connection.openAt === 0) record.failedUpgrades += 1
      })
      ws.once("close", (code) => {
        clearInterval(timer)
        if (connection.openAt !== 0) {
          connection.closeAt = performance.now()
          if (connection.closingAt === null && running()) connection.code = code
        } else replica.ready = false
        resolve()
      })
    })
  const loop = (async () => {
    while (running()) await connectOnce()
  })()
  const close = () => {
    if (current === undefined) return
    current.connection.closingAt ??= performance.now()
    current.ws.close(1000)
  }
  /** Connected to its home replica (as it is now), and not leaving it. */
  const atHome = () => current !== undefined && current.connection.closeAt === null && current.connection.closingAt === null && current.connection.on === label(homeReplica())
  return { record, loop, close, atHome }
}

/** When a connection stopped being usable: closed, or closing by its own client. */
const endOf = (connection: Connection, now: number) => Math.min(connection.closeAt ?? now, connection.closingAt ?? now)

/**
 * Each broadcast of every sender, for every other client: expected when sent while the receiver had
 * been connected `openMarginMs` and both sockets stayed open (not closing) `edgeMs` after it; an
 * expected one must be received once. No broadcast may be received twice by one client, and each
 * sender connection's broadcasts arrive in its order.
 */
export const accountBroadcasts = (records: ReadonlyArray<ClientRecord>, openMarginMs: number, edgeMs: number) => {
  const now = performance.now()
  let expected = 0
  let expectedCross = 0
  /** Expected broadcasts that crossed, by the receiver's replica (name:port). */
  const crossAt: Record<string, number> = {}
  const missing: Array<string> = []
  const duplicates: Array<string> = []
  const outOfOrder: Array<string> = []
  for (const receiver of records) {
    const seen = new Map<string, number>()
    for (const connection of receiver.connections) {
      const last = new Map<string, number>()
      for (const key of connection.received) {
        seen.set(key, (seen.get(key) ?? 0) + 1)
        const [from, index, seq] = key.split("/")
        const stream = `${from}/${index}`
        if ((last.get(stream) ?? -1) >= Number(seq)) outOfOrder.push(`client ${receiver.id} got ${key} after seq ${last.get(stream)}`)
        last.set(stream, Number(seq))
      }
    }
    for (const [key, n] of seen) if (n > 1) duplicates.push(`client ${receiver.id} got ${key} ${n} times`)
    for (const sender of records) {
      if (sender === receiver) continue
      for (const from of sender.connections) {
        for (const { seq, at } of from.sent) {
          if (at > endOf(from, now) - edgeMs) continue
          const on = receiver.connections.find((c) => c.openAt + openMarginMs <= at && at <= endOf(c, now) - edgeMs)
          if (on === undefined) continue
          expected += 1
          if (on.on !== from.on) {
            expectedCross += 1
            crossAt[on.on] = (crossAt[on.on] ?? 0) + 1
          }
          const key = `${sender.id}/${from.index}/${seq}`
          if (!on.received.includes(key)) missing.push(`client ${receiver.id} on ${on.on} missed ${key}, sent on ${from.on}`)
        }
      }
    }
  }
  return { expected, expectedCross, crossAt, missing, duplicates, outOfOrder }
}
