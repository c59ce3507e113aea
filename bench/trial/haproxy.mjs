// HAProxy (Debian's package) in front of the replicas: the config is generated into a temp dir, the
// process runs in the foreground as our child, and its admin socket answers "show stat" (which
// replica it sees up).
import { execFileSync, spawn } from "node:child_process"
import { writeFileSync } from "node:fs"
import net from "node:net"
import { join } from "node:path"

/** The `haproxy -v` first line, or null when haproxy is not installed. */
export const haproxyVersion = () => {
  try {
    return execFileSync("haproxy", ["-v"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).split("\n")[0]
  } catch {
    return null
  }
}

// Health check every CHECK_INTER_MS, one failure marks a replica down, one success up again: the
// longest a draining replica keeps getting new requests is about one interval plus one check.
export const CHECK_INTER_MS = 250
export const CHECK_TIMEOUT_MS = 500

export const haproxyConfig = ({ dir, port, replicas }) => `
global
  stats socket ${join(dir, "admin.sock")} mode 600 level admin
  maxconn 4096

defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 30s
  timeout check ${CHECK_TIMEOUT_MS}ms
  # WebSockets: once upgraded, the connection is a tunnel with its own idle timeout.
  timeout tunnel 1h
  timeout client-fin 5s
  timeout server-fin 5s
  # A connection to a replica that fails (refused: it is between exit and restart) is retried, each
  # retry on another replica. Requests are never replayed once sent (retry-on stays conn-failure).
  retries 3
  option redispatch 1
  retry-on conn-failure
  # Keep-alive with the clients, one connection per request to the replicas: a request is never
  # sent on an idle connection the replica is closing (its 5 s keep-alive timeout or its drain).
  option http-server-close

frontend public
  bind 127.0.0.1:${port}
  default_backend replicas

backend replicas
  balance roundrobin
  option httpchk
  http-check send meth GET uri /readyz
  http-check expect status 200
  default-server inter ${CHECK_INTER_MS}ms fastinter ${CHECK_INTER_MS}ms downinter ${CHECK_INTER_MS}ms fall 1 rise 1
  # Which replica answered (the WebSocket clients read it from the upgrade response).
  http-response set-header x-replica %s
${replicas.map(({ name, port: replicaPort }) => `  server ${name} 127.0.0.1:${replicaPort} check`).join("\n")}
`

export const startHaproxy = (options) => {
  const file = join(options.dir, "haproxy.cfg")
  writeFileSync(file, haproxyConfig(options))
  execFileSync("haproxy", ["-c", "-q", "-f", file], { stdio: "inherit" })
  const child = spawn("haproxy", ["-db", "-f", file], { stdio: ["ignore", "ignore", "pipe"] })
  let stderr = ""
  child.stderr.setEncoding("utf8").on("data", (chunk) => {
    stderr += chunk
  })
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)))
  const socket = join(options.dir, "admin.sock")
  return { child, exited, stderr: () => stderr, socket, stop: () => (child.kill("SIGTERM"), exited) }
}

/** One admin-socket command's answer. */
export const adminCommand = (socket, command) =>
  new Promise((resolve, reject) => {
    let answer = ""
    const connection = net.connect({ path: socket }, () => connection.end(`${command}\n`))
    connection.setEncoding("utf8").on("data", (chunk) => {
      answer += chunk
    })
    connection.once("error", reject)
    connection.once("close", () => resolve(answer))
  })

/** Each replica's status as HAProxy sees it: { r1: "UP", r2: "DOWN", ... }. */
export const serverStates = async (socket) => {
  const csv = await adminCommand(socket, "show stat")
  const [header, ...rows] = csv.trim().split("\n")
  const columns = header.replace(/^# /, "").split(",")
  const at = (name) => columns.indexOf(name)
  const states = {}
  for (const row of rows) {
    const cells = row.split(",")
    if (cells[at("pxname")] === "replicas" && !["FRONTEND", "BACKEND"].includes(cells[at("svname")])) {
      states[cells[at("svname")]] = cells[at("status")]
    }
  }
  return states
}
