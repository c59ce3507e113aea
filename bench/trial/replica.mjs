// One replica of the service (node dist/main.js) on a fixed port: every stdout line kept (JSON), the
// exit code and the "shutdown complete" line's elapsedMs recorded.
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

/** Starts a replica; resolves once it logged "listening" (rejects if it exits or takes > 15 s). */
export const startReplica = (name, port, env) =>
  new Promise((resolve, reject) => {
    // DATABASE_URL is set, so this stays empty; a replica that ignored it would fall back to SQLite here.
    const dataDir = mkdtempSync(join(tmpdir(), "owned-service-trial-"))
    const child = spawn(process.execPath, ["dist/main.js"], {
      env: { PATH: process.env.PATH, PORT: String(port), ADMIN_PORT: "0", HOST: "127.0.0.1", DATA_DIR: dataDir, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    const replica = { name, port, child, lines: [], stderr: "", startedAt: performance.now(), exit: null }
    replica.exited = new Promise((done) =>
      child.once("exit", (code, signal) => {
        rmSync(dataDir, { recursive: true, force: true })
        replica.exit = { code, signal, at: performance.now() }
        done(replica.exit)
      })
    )
    const timer = setTimeout(() => reject(new Error(`${name} did not log "listening" within 15 s; stderr: ${replica.stderr}`)), 15_000)
    let buffered = ""
    child.stdout.setEncoding("utf8").on("data", (chunk) => {
      buffered += chunk
      const parts = buffered.split("\n")
      buffered = parts.pop()
      for (const text of parts) {
        let line
        try {
          line = JSON.parse(text)
        } catch {
          line = { message: "(not JSON)", text }
        }
        replica.lines.push(line)
        if (line.message === "listening") {
          clearTimeout(timer)
          replica.adminPort = line.adminPort
          replica.listeningAt = performance.now()
          resolve(replica)
        }
      }
    })
    child.stderr.setEncoding("utf8").on("data", (chunk) => {
      replica.stderr += chunk
    })
    void replica.exited.then(() => {
      clearTimeout(timer)
      reject(new Error(`${name} exited with ${replica.exit.code} before listening; stderr: ${replica.stderr}`))
    })
  })

/** SIGTERM; resolves with exit code, SIGTERM->exit wall time and the logged drain time (elapsedMs). */
export const stopReplica = async (replica, timeoutMs = 30_000) => {
  const signalledAt = performance.now()
  replica.signalledAt = signalledAt
  if (replica.exit === null) replica.child.kill("SIGTERM")
  const killer = setTimeout(() => replica.child.kill("SIGKILL"), timeoutMs)
  const exit = await replica.exited
  clearTimeout(killer)
  const complete = replica.lines.find((line) => line.message === "shutdown complete")
  if (exit.code !== 0) {
    const last = replica.lines.filter((line) => line.level !== "debug").slice(-6).map((line) => JSON.stringify(line)).join("\n    ")
    console.log(`  ${replica.name} exited ${exit.code ?? exit.signal}; its last log lines:\n    ${last}${replica.stderr === "" ? "" : `\n  stderr: ${replica.stderr}`}`)
  }
  return {
    name: replica.name,
    port: replica.port,
    code: exit.code ?? exit.signal,
    exitMs: Math.round(exit.at - signalledAt),
    drainMs: complete?.elapsedMs ?? null
  }
}
