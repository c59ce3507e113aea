// Runs the real service (node dist/main.js) as a child process, reads its JSON log lines, and
// always kills it when the test ends. Every wait has an explicit timeout.
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { onTestFinished } from "vitest"

export type LogLine = Record<string, unknown> & { readonly message: string }

export interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** performance.now() when the child exited (the promise settles once its stdio is drained too). */
  readonly at: number
}

export interface Service {
  readonly child: ChildProcess
  readonly lines: ReadonlyArray<LogLine>
  readonly stderr: () => string
  readonly port: number
  readonly adminPort: number
  readonly exited: Promise<Exited>
  readonly waitForLine: (predicate: (line: LogLine) => boolean, timeoutMs?: number) => Promise<LogLine>
  readonly signal: (signal: NodeJS.Signals) => number
}

const withTimeout = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> =>
  new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error) => {
        clearTimeout(timer)
        reject(error)
      }
    )
  })

export const waitFor = withTimeout

/** Starts the service on ports 0 and waits for its `listening` line (unless it exits first). */
export const spawnService = async (
  env: Record<string, string> = {},
  options: { readonly waitForListening?: boolean } = {}
): Promise<Service> => {
  // Its own DATA_DIR unless the test shares one on purpose (a restart on the same store): services
  // of tests running side by side must not share one SQLite file (they would wait on its lock).
  let dataDir: string | undefined
  if (env.DATA_DIR === undefined) {
    dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "service-data-"))
    const created = dataDir
    onTestFinished(() => Fs.rmSync(created, { recursive: true, force: true }))
  }
  const child = spawn(process.execPath, ["dist/main.js"], {
    env: { PATH: process.env.PATH ?? "", PORT: "0", ADMIN_PORT: "0", HOST: "127.0.0.1", ...(dataDir === undefined ? {} : { DATA_DIR: dataDir }), ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  })
  const lines: Array<LogLine> = []
  const watchers = new Set<() => void>()
  let stderr = ""
  let buffered = ""
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk
    let newline = buffered.indexOf("\n")
    while (newline !== -1) {
      const text = buffered.slice(0, newline)
      buffered = buffered.slice(newline + 1)
      // Every stdout line must be JSON: a parse error fails the test that reads it.
      lines.push(JSON.parse(text) as LogLine)
      newline = buffered.indexOf("\n")
    }
    for (const wake of watchers) wake()
  })
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk
  })
  // Settled on "close", once stdout and stderr are drained too: a test that reads the log after
  // the exit sees every line (on "exit" the last lines may still be in the pipe). `at` is the exit.
  const exited = new Promise<Exited>((resolve) => {
    let at: number | undefined
    child.once("exit", () => {
      at = performance.now()
    })
    child.once("close", (code, signal) => resolve({ code, signal, at: at ?? performance.now() }))
  })

  const waitForLine = (predicate: (line: LogLine) => boolean, timeoutMs = 15_000) =>
    withTimeout(
      new Promise<LogLine>((resolve, reject) => {
        const check = () => {
          const found = lines.find(predicate)
          if (found !== undefined) {
            watchers.delete(check)
            resolve(found)
          }
        }
        watchers.add(check)
        check()
        void exited.then(() => {
          check()
          if (watchers.has(check)) {
            watchers.delete(check)
            reject(new Error(`service exited before the expected log line; stderr: ${stderr}`))
          }
        })
      }),
      timeoutMs,
      "a log line"
    )

  let port = 0
  let adminPort = 0
  if (options.waitForListening !== false) {
    // 30 s: on a loaded machine (load 20 on 2 cores, test:stress) a start has taken over 10 s.
    const listening = await waitForLine((line) => line.message === "listening", 30_000)
    port = Number(listening.port)
    adminPort = Number(listening.adminPort)
  }
  return {
    child,
    lines,
    stderr: () => stderr,
    port,
    adminPort,
    exited,
    waitForLine,
    signal: (signal) => {
      child.kill(signal)
      return performance.now()
    }
  }
}
