// npm run trial:rolling [-- --replicas=3 --steady=3]
// A rolling update of a fleet, end to end: three replicas (node dist/main.js) on one Postgres (a fresh
// schema, dropped after) and one Redis, behind HAProxy (Debian's package) checking GET /readyz. Under a
// load of keep-alive HTTP clients, POST /jobs posters and WebSocket clients that broadcast, each replica
// in turn gets SIGTERM; once it exited a new one is started on its port, and the next waits until
// HAProxy sees the new one up. Goal: 0 failed requests, 0 lost jobs, 0 jobs done twice, every replica
// (the rolled ones and their successors, stopped at the end) exit 0. Not a test (it needs HAProxy,
// Postgres and Redis, and takes ~45 s). A trial that ran to the end rewrites bench/RESULTS-rolling.md
// with its figures (commit, date, machine, goal met or missed, why broadcasts went missing) and its
// summary section of bench/RESULTS.md (the rest of that file, npm run bench's, is kept); one that
// aborted leaves both as they were.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { withPostgres } from "./lib.mjs"
import { runInfo, table, withRollingSection, writeResults } from "./report.mjs"
import { CHECK_INTER_MS, CHECK_TIMEOUT_MS, haproxyVersion, serverStates, startHaproxy } from "./trial/haproxy.mjs"
import { broadcastFigures, httpClients, makeStats, posters, wsClients } from "./trial/load.mjs"
import { startReplica, stopReplica } from "./trial/replica.mjs"
import { GOAL_TEXT, goalMet, missingNote, renderRollingSection, runAndRequests } from "./trial/summary.mjs"

const args = Object.fromEntries(process.argv.slice(2).map((arg) => arg.replace(/^--/, "").split("=")))
const REPLICAS = Number(args.replicas ?? 3)
const STEADY_MS = Number(args.steady ?? 3) * 1_000
const HTTP_CLIENTS = 6
const POSTERS = 3
const POST_PAUSE_MS = 50
const WS_CLIENTS = 6
const WS_EVERY_MS = 200
// A broadcast sent this close to either edge of a connection is not expected; one missing within
// EDGE_MS of a close is put down to that close (at-most-once), in the note.
const MARGIN_MS = 200
const EDGE_MS = 1_000
// Longer than HAProxy needs to see /readyz 503 (one interval plus one check, ~0.5 s worst case) with
// room for a loaded 2-core machine: HAProxy stops sending before the listener closes.
const DRAIN_DELAY_MS = 2_000
const REPLICA_ENV = { DRAIN_DELAY_MS: String(DRAIN_DELAY_MS), SHUTDOWN_TIMEOUT_MS: "15000", WORKERS: "4" }

const postgresUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379"

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const fail = (message) => {
  console.error(message)
  process.exit(2)
}

// --- preconditions --------------------------------------------------------------------------------
const version = haproxyVersion()
if (version === null) {
  fail("haproxy is not installed. On Debian/Ubuntu, as root: apt-get install -y haproxy\n(the trial runs Debian's HAProxy in front of the replicas; nothing else is needed from it)")
}
if (!existsSync("dist/main.js")) fail("dist/main.js is missing: run `npm run build` first (npm run trial:rolling does)")

const withPg = (f) => withPostgres(postgresUrl, f)
await withPg((client) => client.query("SELECT 1")).catch((error) => fail(`Postgres unreachable at ${new URL(postgresUrl).host} (${error.message}); set BENCH_DATABASE_URL`))

const redisPing = () =>
  new Promise((resolve) => {
    const url = new URL(redisUrl)
    const socket = net.connect({ host: url.hostname, port: Number(url.port || 6379) })
    socket.setTimeout(2_000, () => socket.destroy())
    let answer = ""
    socket.once("connect", () => socket.write("PING\r\n"))
    socket.setEncoding("utf8").on("data", (chunk) => {
      answer += chunk
      if (answer.includes("\r\n")) socket.end()
    })
    socket.once("error", () => undefined)
    socket.once("close", () => resolve(answer.startsWith("+PONG") || answer.startsWith("-NOAUTH")))
  })
if (!(await redisPing())) fail(`Redis unreachable at ${new URL(redisUrl).host}; set REDIS_URL`)

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })

// --- the fleet ------------------------------------------------------------------------------------
const dir = mkdtempSync(join(tmpdir(), "owned-service-trial-"))
const schema = `trial_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
await withPg((client) => client.query(`CREATE SCHEMA ${schema}`))
const databaseUrl = new URL(postgresUrl)
databaseUrl.searchParams.set("options", `-c search_path=${schema}`)
const env = { ...REPLICA_ENV, DATABASE_URL: databaseUrl.toString(), REDIS_URL: redisUrl }

const every = [] // every replica ever started (its stdout holds its "job done" lines)
const slots = []
let haproxy
const cleanup = async () => {
  for (const replica of every) if (replica.exit === null) replica.child.kill("SIGKILL")
  if (haproxy !== undefined) await haproxy.stop()
  await withPg((client) => client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)).catch((error) => console.error(`schema ${schema} not dropped: ${error.message}`))
  rmSync(dir, { recursive: true, force: true })
}
process.once("SIGINT", () => void cleanup().then(() => process.exit(130)))

const waitForStates = async (want, what, timeoutMs = 15_000) => {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const states = await serverStates(haproxy.socket).catch(() => ({}))
    if (Object.entries(want).every(([name, state]) => String(states[name]).startsWith(state))) return performance.now()
    if (performance.now() > deadline) throw new Error(`HAProxy did not see ${what} within ${timeoutMs} ms: ${JSON.stringify(states)}`)
    await sleep(50)
  }
}

let running = true
const stats = { http: makeStats(), jobs: makeStats() }
const acked = []
let ws
const rolled = []
const run = runInfo()
const startedAt = performance.now()
try {
  const lbPort = await freePort()
  for (let i = 1; i <= REPLICAS; i++) {
    const port = await freePort()
    const replica = await startReplica(`r${i}`, port, env)
    every.push(replica)
    slots.push(replica)
  }
  haproxy = startHaproxy({ dir, port: lbPort, replicas: slots })
  const allUp = Object.fromEntries(slots.map((replica) => [replica.name, "UP"]))
  await waitForStates(allUp, "every replica up")
  console.log(`${version}; ${REPLICAS} replicas up behind 127.0.0.1:${lbPort} (health check GET /readyz every ${CHECK_INTER_MS} ms, fall 1, rise 1; DRAIN_DELAY_MS ${DRAIN_DELAY_MS})`)

  const isRunning = () => running
  const loops = [
    ...httpClients(lbPort, HTTP_CLIENTS, stats.http, isRunning),
    ...posters(lbPort, POSTERS, POST_PAUSE_MS, stats.jobs, acked, isRunning)
  ]
  ws = existsSync("src/websocket") ? wsClients(lbPort, WS_CLIENTS, WS_EVERY_MS, isRunning) : null
  await sleep(STEADY_MS)

  for (let i = 0; i < slots.length; i++) {
    const old = slots[i]
    const at = ((performance.now() - startedAt) / 1000).toFixed(1)
    console.log(`t=${at}s SIGTERM ${old.name} (port ${old.port})`)
    const stopped = await stopReplica(old)
    rolled.push(stopped)
    console.log(`  t=${((old.exit.at - startedAt) / 1000).toFixed(2)}s ${old.name} exited ${stopped.code} after ${stopped.exitMs} ms (drain ${stopped.drainMs} ms); starting its successor on port ${old.port}`)
    const successor = await startReplica(`${old.name}'`, old.port, env)
    every.push(successor)
    slots[i] = successor
    const upAt = await waitForStates({ [old.name]: "UP" }, `${old.name}'s successor up`)
    console.log(`  successor listening ${Math.round(successor.listeningAt - successor.startedAt)} ms after its spawn (t=${((successor.listeningAt - startedAt) / 1000).toFixed(2)}s); HAProxy sees it up ${Math.round(upAt - successor.listeningAt)} ms later`)
    await sleep(STEADY_MS)
  }

  running = false
  ws?.closeAll()
  await Promise.all([...loops, ...(ws?.loops ?? [])])

  // Every acknowledged job must be logged "job done" by some replica (old or new).
  const doneCounts = () => {
    const counts = new Map()
    for (const replica of every) for (const line of replica.lines) if (line.message === "job done") counts.set(line.jobId, (counts.get(line.jobId) ?? 0) + 1)
    return counts
  }
  const waitDeadline = performance.now() + 60_000
  while (performance.now() < waitDeadline && !acked.every((id) => doneCounts().has(id))) await sleep(200)

  const finals = []
  for (const replica of slots) finals.push(await stopReplica(replica))

  // --- figures ------------------------------------------------------------------------------------
  const counts = doneCounts()
  const ackedSet = new Set(acked)
  const lost = acked.filter((id) => !counts.has(id))
  const twice = [...counts].filter(([, n]) => n > 1)
  const unacked = [...counts.keys()].filter((id) => !ackedSet.has(id))
  const crossReplica = every.some((replica) => replica.lines.some((line) => line.message === "broadcast link up"))
  const missed = []
  const wsRows = ws === null ? [] : broadcastFigures(ws, crossReplica, MARGIN_MS, missed, EDGE_MS)
  const missingExamples = missed.slice(0, 10)

  console.log(`\nrolling update of ${REPLICAS} replicas, ${((performance.now() - startedAt) / 1000).toFixed(1)} s; ${HTTP_CLIENTS} keep-alive HTTP clients, ${POSTERS} posters, ${ws === null ? "no WebSocket clients (src/websocket is gone)" : `${WS_CLIENTS} WebSocket clients`}`)
  console.table({
    "HTTP GET (/sleep?ms=5, /healthz)": { sent: stats.http.sent, "2xx": stats.http.ok, "429": stats.http.tooMany, failed: stats.http.failed },
    "POST /jobs": { sent: stats.jobs.sent, "2xx": stats.jobs.ok, "429": stats.jobs.tooMany, failed: stats.jobs.failed }
  })
  // When and where each failure happened, relative to the SIGTERM of the replica that answered it.
  for (const { at, ...failure } of [...stats.http.failures, ...stats.jobs.failures]) {
    const answeredBy = every.find((replica) => replica.name === failure.replica && replica.signalledAt !== undefined)
    const when = answeredBy === undefined ? `t=${((at - startedAt) / 1000).toFixed(1)}s` : `${Math.round(at - answeredBy.signalledAt)} ms after ${answeredBy.name}'s SIGTERM`
    console.log(`  failed (${when}): ${JSON.stringify(failure)}`)
  }
  console.log(`jobs: acknowledged ${acked.length}, done ${acked.length - lost.length}, lost ${lost.length}, done twice ${twice.length}` +
    (unacked.length > 0 ? ` (and ${unacked.length} done whose POST got no 202)` : ""))
  if (lost.length > 0) console.log(`  lost, e.g. ${lost.slice(0, 5).join(", ")}`)
  if (twice.length > 0) console.log(`  done twice, e.g. ${JSON.stringify(twice.slice(0, 5))}`)
  if (ws !== null) {
    console.log(`broadcasts (${crossReplica ? "cross-replica over Redis: every client is expected to get every broadcast" : "no 'broadcast link up' logged, so per replica: a client is expected to get the broadcasts sent on its own replica"}; expected = sent while both sender and receiver were connected, ${MARGIN_MS} ms from either edge):`)
    console.table(wsRows)
    const t = (at) => (at === null ? "-" : `${((at - startedAt) / 1000).toFixed(2)}s`)
    for (const e of missingExamples) console.log(`  missing: #${e.from}'s broadcast sent on ${e.sentOn} at t=${t(e.at)}, for #${e.to} on ${e.on} (connected t=${t(e.openAt)}..${t(e.closeAt)}): ${e.cause}`)
    console.log(missingNote(missed, EDGE_MS))
  }
  console.log("replicas rolled (SIGTERM under load):")
  console.table(rolled)
  console.log("their successors, stopped at the end:")
  console.table(finals)

  const goal = goalMet({ failed: stats.http.failed + stats.jobs.failed, lost: lost.length, twice: twice.length, replicas: [...rolled, ...finals] })
  console.log(`goal (${GOAL_TEXT}): ${goal ? "met" : "MISSED"}`)
  process.exitCode = goal ? 0 : 1

  const failures = [...stats.http.failures, ...stats.jobs.failures].map(({ at, ...failure }) => {
    const answeredBy = every.find((replica) => replica.name === failure.replica && replica.signalledAt !== undefined)
    return `- ${answeredBy === undefined ? `t=${((at - startedAt) / 1000).toFixed(1)} s` : `${Math.round(at - answeredBy.signalledAt)} ms after ${answeredBy.name}'s SIGTERM`}: ${JSON.stringify(failure)}`
  })
  const tOf = (at) => (at === null || at === undefined ? "-" : `${((at - startedAt) / 1000).toFixed(2)} s`)
  const exits = (replicas) => table(["replica", "exit code", "SIGTERM -> exit (ms)", "drain, from \"shutdown complete\" (ms)"], replicas.map((r) => [r.name, r.code, r.exitMs, r.drainMs ?? "no line"]))
  const tookS = ((performance.now() - startedAt) / 1000).toFixed(1)
  writeResults("bench/RESULTS-rolling.md", `${[
    "# Rolling update of a fleet: trial results",
    "",
    "Generated by `npm run trial:rolling` (bench/trial-rolling.mjs, helpers in bench/trial/): do not edit by",
    "hand, run it again and commit what it writes; earlier runs are in this file's history. What the trial",
    `does: ${REPLICAS} replicas (\`node dist/main.js\`, \`DRAIN_DELAY_MS\` ${DRAIN_DELAY_MS}, \`SHUTDOWN_TIMEOUT_MS\` 15000, \`WORKERS\` 4) on one`,
    "Postgres (a fresh schema, dropped after) and one Redis, behind HAProxy checking `GET /readyz` (bench/trial/haproxy.mjs",
    `has the generated config). Load through HAProxy: ${HTTP_CLIENTS} keep-alive HTTP clients (\`GET /sleep?ms=5\` and \`/healthz\` in turn),`,
    `${POSTERS} posters (\`POST /jobs\`, ${POST_PAUSE_MS} ms apart, every 202'd id kept), ${WS_CLIENTS} WebSocket clients broadcasting every ${WS_EVERY_MS} ms and`,
    `reconnecting after close 1001. After ${STEADY_MS / 1000} s each replica in turn gets SIGTERM; once it has exited a successor starts on its`,
    `port, and the next waits until HAProxy sees it up and ${STEADY_MS / 1000} s have passed. Then the load stops, the trial waits for every`,
    "acknowledged job to be logged done by some replica, and stops the successors.",
    "",
    ...runAndRequests({ run, version, tookS, goal, http: stats.http, posts: stats.jobs }),
    "",
    ...(failures.length === 0 ? [] : ["Failed requests, by when they were answered:", "", ...failures, ""]),
    table(["jobs acknowledged (202)", "done", "lost", "done twice", "done without a 202"], [[acked.length, acked.length - lost.length, lost.length, twice.length, unacked.length]]),
    "",
    ...(ws === null ? ["No WebSocket clients: src/websocket is gone.", ""] : [
      `Broadcasts per client (${crossReplica ? "cross-replica over Redis: every client is expected to get every broadcast" : "no \"broadcast link up\" logged, so per replica: a client is expected to get what was sent on its own replica"}; expected = sent while both sender and receiver were connected, ${MARGIN_MS} ms from either edge, the trial's own close at the end counting as an edge):`,
      "",
      table(["client", "sent", "received", "expected", "missing", "duplicates", "reconnects", "close codes", "upgrade failures", "error frames"],
        wsRows.map((row) => [row.client, row.sent, row.received, row.expected, row.missing, row.duplicates, row.reconnects, row.closeCodes, row.upgradeFailures, row.errorFrames])),
      "",
      ...(missingExamples.length === 0 ? [] : [
        `Missing broadcasts (the first ${missingExamples.length}; t from the trial's start):`,
        "",
        ...missingExamples.map((e) => `- #${e.from}'s broadcast sent on ${e.sentOn} at t=${tOf(e.at)}, for #${e.to} on ${e.on} (connected t=${tOf(e.openAt)}..${tOf(e.closeAt)}): ${e.cause}`),
        ""
      ]),
      missingNote(missed, EDGE_MS),
      ""
    ]),
    "Replicas rolled (SIGTERM under load):",
    "",
    exits(rolled),
    "",
    "Their successors, stopped at the end:",
    "",
    exits(finals)
  ].join("\n")}\n`)
  // Only the trial's section of RESULTS.md: the bench's figures around it stay as they are.
  const section = renderRollingSection({
    run, version, tookS, goal, http: stats.http, posts: stats.jobs,
    jobs: { acked: acked.length, lost: lost.length, twice: twice.length }, wsRows, missed, rolled, finals
  })
  writeResults("bench/RESULTS.md", withRollingSection(existsSync("bench/RESULTS.md") ? readFileSync("bench/RESULTS.md", "utf8") : "", section))
} catch (error) {
  console.error(`trial aborted: ${error.stack ?? error}`)
  for (const replica of every) {
    const exit = replica.exit === null ? "running" : `exited ${replica.exit.code ?? replica.exit.signal}`
    const last = replica.lines.slice(-4).map((line) => JSON.stringify(line)).join("\n    ")
    console.error(`${replica.name} (port ${replica.port}): ${exit}; last log lines:\n    ${last}${replica.stderr === "" ? "" : `\n  stderr: ${replica.stderr}`}`)
  }
  if (haproxy !== undefined) console.error(`haproxy stderr: ${haproxy.stderr()}`)
  process.exitCode = 2
} finally {
  running = false
  ws?.closeAll()
  await cleanup()
}
