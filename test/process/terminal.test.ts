// The service under the npm scripts a newcomer runs at a terminal. A terminal's Ctrl-C signals its
// whole foreground process group (npm, sh, the watcher, the service), and npm and `node --watch`
// forward a copy too; here each script runs `detached` (it leads its own process group, as a
// terminal's foreground job does) and Ctrl-C is `process.kill(-pid, "SIGINT")`.
//
// The scripts run on a temporary copy of the repository (sources, scripts, package.json,
// tsconfig.json, and a link to node_modules): `npm start` rebuilds dist/ there, not under the other
// process tests running beside this file, and the watch test changes a source file of the copy.
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest"
import { SameKeypressWindowMs } from "../../src/lifecycle/Signals.js"
import { type LogLine, waitFor } from "../support/spawnService.js"

const root = Path.resolve(import.meta.dirname, "../..")
let copy = ""

beforeAll(() => {
  copy = Fs.mkdtempSync(Path.join(Os.tmpdir(), "terminal-repo-"))
  for (const entry of ["src", "scripts", "package.json", "tsconfig.json"]) {
    Fs.cpSync(Path.join(root, entry), Path.join(copy, entry), { recursive: true })
  }
  Fs.symlinkSync(Fs.realpathSync(Path.join(root, "node_modules")), Path.join(copy, "node_modules"))
})
afterAll(() => Fs.rmSync(copy, { recursive: true, force: true }))

interface Group {
  readonly leader: ChildProcess
  /** The service's JSON log lines, in order (npm's and the watcher's own lines are in `text`). */
  readonly lines: ReadonlyArray<LogLine>
  readonly text: () => string
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  readonly waitForLine: (predicate: (line: LogLine, index: number) => boolean, timeoutMs: number) => Promise<LogLine>
  /** What a terminal does on Ctrl-C: SIGINT to every process of the group. */
  readonly ctrlC: () => void
  readonly gone: () => Promise<void>
}

const groupAlive = (pgid: number) => {
  try {
    process.kill(-pgid, 0)
    return true
  } catch {
    return false
  }
}

/** Runs `npm run <script>` in the copy as a terminal's foreground job; SIGKILLs its group at the end. */
const runScript = (script: string, env: Record<string, string>): Group => {
  const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "terminal-data-"))
  const leader = spawn("npm", ["run", script], {
    cwd: copy,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? Os.homedir(),
      PORT: "0",
      ADMIN_PORT: "0",
      HOST: "127.0.0.1",
      DATA_DIR: dataDir,
      ...env
    }
  })
  const pgid = leader.pid!
  onTestFinished(() => {
    if (groupAlive(pgid)) process.kill(-pgid, "SIGKILL")
    Fs.rmSync(dataDir, { recursive: true, force: true })
  })
  const lines: Array<LogLine> = []
  const watchers = new Set<() => void>()
  let text = ""
  let buffered = ""
  leader.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk
    for (let newline = buffered.indexOf("\n"); newline !== -1; newline = buffered.indexOf("\n")) {
      const line = buffered.slice(0, newline)
      buffered = buffered.slice(newline + 1)
      text += `${line}\n`
      // npm's banner and node --watch's "Restarting ..." share the pipe; the service's lines are JSON.
      if (line.startsWith("{")) lines.push(JSON.parse(line) as LogLine)
    }
    for (const wake of watchers) wake()
  })
  leader.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    text += chunk
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    leader.once("exit", (code, signal) => resolve({ code, signal }))
  })
  const waitForLine = (predicate: (line: LogLine, index: number) => boolean, timeoutMs: number) =>
    waitFor(
      new Promise<LogLine>((resolve) => {
        const check = () => {
          const found = lines.find(predicate)
          if (found === undefined) return
          watchers.delete(check)
          resolve(found)
        }
        watchers.add(check)
        check()
      }),
      timeoutMs,
      "a log line"
    ).catch((error: Error) => {
      throw new Error(`${error.message}; output so far:\n${text}`)
    })
  const gone = async () => {
    await waitFor(exited, 10_000, `npm run ${script} to exit`)
    // npm waits for its child, which waits for the service; what is left must end promptly too.
    const deadline = performance.now() + 5_000
    while (groupAlive(pgid)) {
      if (performance.now() > deadline) throw new Error(`process group of npm run ${script} still alive`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  return { leader, lines, text: () => text, exited, waitForLine, ctrlC: () => process.kill(-pgid, "SIGINT"), gone }
}

const message = (text: string) => (line: LogLine) => line.message === text

/** npm's own result after the service exited 0 (README "Stopping, and exit codes"): the scripts
 * `exec` the service, so npm is its direct parent and exits with its code. Without `exec`, dash
 * (Debian's /bin/sh), signalled too, dies of SIGINT once the service has exited and npm re-raises
 * it on itself: the terminal would show 130 after a clean drain. */
const npmAfterCleanExit = (exited: { readonly code: number | null; readonly signal: NodeJS.Signals | null }) =>
  exited.code === 0 && exited.signal === null

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })

describe("at a terminal", () => {
  it("npm start: one Ctrl-C drains, the service exits 0, and the whole group exits", async () => {
    const group = runScript("start", {})
    await group.waitForLine(message("listening"), 40_000)
    group.ctrlC()
    const done = await group.waitForLine(message("shutdown complete"), 10_000)
    expect(done).toMatchObject({ reason: "SIGINT", exitCode: 0 })
    await group.gone()
    expect(group.lines.find(message("forced exit: second signal"))).toBeUndefined()
    expect(npmAfterCleanExit(await group.exited)).toBe(true)
  }, 60_000)

  it("npm start: a second Ctrl-C, later than the first's copies, forces the exit with 130", async () => {
    const group = runScript("start", { DEBUG_HANG_ON_SHUTDOWN: "true", SHUTDOWN_TIMEOUT_MS: "60000" })
    await group.waitForLine(message("listening"), 40_000)
    group.ctrlC()
    await group.waitForLine(message("signal received"), 5_000)
    await group.waitForLine(message("debug finalizer hanging"), 5_000)
    // Not a synchronisation sleep: it is what is under test. A human's second Ctrl-C comes later
    // than the window in which the same signal is taken as a copy of the first keypress.
    await new Promise((resolve) => setTimeout(resolve, SameKeypressWindowMs + 100))
    group.ctrlC()
    const forced = await group.waitForLine(message("forced exit: second signal"), 5_000)
    expect(forced).toMatchObject({ signal: "SIGINT", exitCode: 130, finalizersSkipped: true })
    await group.gone()
    expect(group.lines.find(message("shutdown complete"))).toBeUndefined()
  }, 60_000)

  it("npm run dev: a change restarts through a drain (old exits 0, then the new one binds the same port); Ctrl-C then exits 0", async () => {
    const port = await freePort()
    const group = runScript("dev", { PORT: String(port) })
    const first = await group.waitForLine(message("listening"), 40_000)
    expect(first.port).toBe(port)

    // A request in flight across the restart: a drain lets it finish; a kill would cut it.
    const inFlight = fetch(`http://127.0.0.1:${port}/sleep?ms=2000`)
    const deadline = performance.now() + 5_000
    for (;;) {
      const { fibers } = await (await fetch(`http://127.0.0.1:${first.adminPort}/debug/fibers`)).json() as {
        fibers: Array<{ name: string }>
      }
      if (fibers.some((fiber) => fiber.name === "GET /sleep")) break
      if (performance.now() > deadline) throw new Error("GET /sleep never in flight")
    }
    Fs.appendFileSync(Path.join(copy, "src/main.ts"), "\n// changed by test/process/terminal.test.ts\n")

    const drained = await group.waitForLine(message("shutdown complete"), 15_000)
    expect(drained).toMatchObject({ reason: "SIGTERM", exitCode: 0 })
    expect((await inFlight).status).toBe(200)
    const restarted = await group.waitForLine((line, index) => line.message === "listening" && index > group.lines.indexOf(drained), 40_000)
    expect(restarted.port).toBe(port)
    expect(group.lines.find((line) => line.message === "startup failed")).toBeUndefined()
    expect(group.text()).toContain("Restarting")
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200)

    group.ctrlC()
    const done = await group.waitForLine((line, index) => line.message === "shutdown complete" && index > group.lines.indexOf(restarted), 10_000)
    expect(done).toMatchObject({ reason: "SIGINT", exitCode: 0 })
    await group.gone()
    expect(group.lines.find(message("forced exit: second signal"))).toBeUndefined()
    expect(npmAfterCleanExit(await group.exited)).toBe(true)
  }, 120_000)
})
