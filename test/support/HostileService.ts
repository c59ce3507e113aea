// The real service under hostile clients: spawns `node dist/main.js`, keeps one well-behaved
// "bystander" WebSocket open the whole time, collects every broken promise of DESIGN.md section 4
// "Hostile input" as a violation (with the exact bytes that caused it), and at the end proves the
// process still serves and exits 0 on SIGTERM.
import { writeFileSync } from "node:fs"
import { expect } from "vitest"
import WebSocket from "ws"
import { type LogLine, type Service, spawnService, waitFor } from "./spawnService.js"

export interface Violation {
  /** Groups violations of one class (first occurrence kept, others counted). */
  readonly kind: string
  readonly detail: string
}

/** A well-behaved WebSocket client kept open through the run: no hostile input may cut it off. */
export interface Bystander {
  readonly ws: WebSocket
  readonly closed: Promise<{ readonly code: number; readonly reason: string }>
}

/** Opens the bystander with the `ws` package directly: test/support must not need a feature's folder. */
const openBystander = (port: number): Promise<Bystander> => {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
  ws.on("error", () => undefined)
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() }))
  )
  return waitFor(
    new Promise<Bystander>((resolve, reject) => {
      ws.once("open", () => resolve({ ws, closed }))
      ws.once("unexpected-response", (_, response) => reject(new Error(`bystander upgrade refused: ${response.statusCode}`)))
      ws.once("error", reject)
    }),
    10_000,
    "the bystander WebSocket"
  )
}

export interface HostileService {
  readonly service: Service
  /** Undefined when the run has none (the WebSocket feature was removed). */
  readonly bystander: Bystander | undefined
  /** Records a broken promise; duplicates of a kind are only counted. */
  readonly violate: (kind: string, detail: string) => void
  readonly violations: () => ReadonlyArray<Violation & { readonly count: number }>
  /** Stdout lines that are not JSON objects (the contract: nothing else is written to stdout). */
  readonly nonJsonLines: ReadonlyArray<string>
  /** Forbidden log lines not yet reported, each recorded as a violation blamed on `after`. */
  readonly blameNewLogLines: (after: string) => void
  /** True once the service logged the start of its shutdown (a fault, or the final trigger). */
  readonly shuttingDown: () => boolean
  /** Throws (a test failure) if the service is gone: nothing more can be learnt from it. */
  readonly assertAlive: (after: string) => void
  /** Bystander still open and echoing, /healthz 200, clean logs, no violations, SIGTERM -> 0. */
  readonly finish: (options?: { readonly stop?: "SIGTERM" | "admin" }) => Promise<void>
}

/** A log line that no client input may cause. */
export const isForbiddenLogLine = (line: LogLine) =>
  line.level === "fatal" || line.level === "error" || /uncaught exception|unhandled rejection/i.test(line.message)

/** Lines that show a guard caught a throw: the safety net held, but the throw is still a bug. */
export const isGuardCatch = (line: LogLine) => typeof line.message === "string" && line.message.includes(" threw; failing only")

export const printable = (bytes: Buffer | string, max = 600) => {
  const text = JSON.stringify(typeof bytes === "string" ? bytes : bytes.toString("latin1"))
  return text.length > max ? `${text.slice(0, max)}... (${text.length} chars)` : text
}

export const startHostileService = async (
  env: Record<string, string> = {},
  options: { readonly bystander?: boolean } = {}
): Promise<HostileService> => {
  const service = await spawnService({ SHUTDOWN_TIMEOUT_MS: "4000", LOG_LEVEL: "info", ...env })
  // Prepended, so the raw line is kept even when spawnService's own JSON.parse throws on it.
  const nonJsonLines: Array<string> = []
  let partial = ""
  service.child.stdout!.prependListener("data", (chunk: string | Buffer) => {
    partial += chunk.toString()
    const lines = partial.split("\n")
    partial = lines.pop() ?? ""
    for (const line of lines) {
      try {
        const parsed: unknown = JSON.parse(line)
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) nonJsonLines.push(line)
      } catch {
        nonJsonLines.push(line)
      }
    }
  })
  const bystander = options.bystander === false ? undefined : await openBystander(service.port)
  const bystanderClosed: Array<string> = []
  void bystander?.closed.then(({ code, reason }) => bystanderClosed.push(`${code} ${reason}`))

  const found = new Map<string, Violation & { count: number }>()
  const violate = (kind: string, detail: string) => {
    const seen = found.get(kind)
    if (seen !== undefined) seen.count += 1
    else found.set(kind, { kind, detail, count: 1 })
  }

  let reported = 0
  const blameNewLogLines = (after: string) => {
    const lines = service.lines
    for (; reported < lines.length; reported++) {
      const line = lines[reported]!
      if (!isForbiddenLogLine(line)) continue
      const cause = String(line.cause ?? "").split("\n")[0]
      violate(`log ${line.level}: ${line.message}${cause === "" ? "" : ` (${cause})`}`, `after ${after}\n    line: ${JSON.stringify(line).slice(0, 700)}`)
    }
  }
  const shuttingDown = () => service.lines.some((line) => line.message === "shutdown")

  const assertAlive = (after: string) => {
    if (service.child.exitCode !== null || service.child.signalCode !== null) {
      violate("process ended", `exit ${service.child.exitCode ?? service.child.signalCode} after ${after}`)
      throw new Error(`the service process ended (exit ${service.child.exitCode ?? service.child.signalCode}) after ${after}`)
    }
  }

  const report = () =>
    Array.from(found.values()).map((v) => `- [${v.kind}] x${v.count}: ${v.detail}`).join("\n")

  const finish = async (options: { readonly stop?: "SIGTERM" | "admin" } = {}) => {
    // The bystander never sent anything hostile: it must still be open and served.
    if (bystander === undefined) {
      // No WebSocket feature: the final /healthz below is the other client that must be served.
    } else if (bystander.ws.readyState !== WebSocket.OPEN) {
      violate("bystander closed", `the bystander WebSocket was closed: ${bystanderClosed.join(", ") || `readyState ${bystander.ws.readyState}`}`)
    } else {
      const token = `still-here-${Date.now()}`
      const echoed = new Promise<boolean>((resolve) => {
        const onMessage = (data: WebSocket.RawData) => {
          if (data.toString().includes(token)) {
            bystander.ws.off("message", onMessage)
            resolve(true)
          }
        }
        bystander.ws.on("message", onMessage)
        bystander.ws.send(JSON.stringify({ type: "echo", data: token }))
      })
      const ok = await waitFor(echoed, 5_000, "the bystander's echo").catch(() => false)
      if (!ok) violate("bystander not served", "the bystander's echo did not come back within 5 s")
    }
    const health = await fetch(`http://127.0.0.1:${service.port}/healthz`).then((r) => r.status, (e) => String(e))
    if (health !== 200) violate("healthz at the end", `GET /healthz at the end -> ${health}`)

    blameNewLogLines("the run (no single input)")
    for (const line of nonJsonLines) violate("non-JSON stdout line", printable(line, 300))
    const guarded = service.lines.filter(isGuardCatch)
    if (guarded.length > 0) console.log(`[fuzz] ${guarded.length} throws caught by NodeEdge guards:\n${guarded.slice(0, 5).map((l) => JSON.stringify(l).slice(0, 400)).join("\n")}`)

    if (options.stop === "admin") {
      const status = await fetch(`http://127.0.0.1:${service.adminPort}/admin/shutdown`, { method: "POST" })
        .then((r) => r.status, (e) => String(e))
      if (status !== 202) violate("admin shutdown", `POST /admin/shutdown at the end -> ${status}`)
    } else if (service.child.exitCode === null) service.signal("SIGTERM")
    const exited = await waitFor(service.exited, 8_000, "exit after the shutdown trigger").catch(() => undefined)
    if (exited?.code !== 0) {
      const complete = service.lines.find((line) => line.message === "shutdown complete")
      violate("exit code", `shutdown at the end -> exit ${exited?.code ?? "none within 8 s"}; ${JSON.stringify(complete ?? {}).slice(0, 300)}`)
    }
    blameNewLogLines("the final shutdown")
    // FUZZ_DUMP=<file>: keep the service's whole log for a look after the run.
    if (process.env.FUZZ_DUMP !== undefined) writeFileSync(process.env.FUZZ_DUMP, service.lines.map((line) => JSON.stringify(line)).join("\n"))
    const all = report()
    if (all !== "") console.log(`[fuzz] violations:\n${all}\nstderr: ${service.stderr().slice(0, 2_000)}`)
    expect(all, "hostile input broke a promise of DESIGN.md section 4 (list above)").toBe("")
  }

  return {
    service,
    bystander,
    violate,
    violations: () => Array.from(found.values()),
    blameNewLogLines,
    shuttingDown,
    nonJsonLines,
    assertAlive,
    finish
  }
}
