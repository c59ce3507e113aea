// Issue 22: the reader of stdout goes away (a log shipper died, `node dist/main.js | head -1`).
// The service keeps serving, does not spin, and SIGTERM still ends it with 0 in the usual time.
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { describe, expect, it, vi } from "vitest"
import { spawnService, waitFor, type Service } from "../support/spawnService.js"

// Real child processes: a start alone has taken over 10 s on a loaded machine (test:stress).
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 })

const ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim())

/** CPU seconds the process has used (user + system), from /proc/<pid>/stat. */
const cpuSeconds = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
}

/** Fraction of one core the process used over about `ms` (a measurement window, not a wait for an event). */
const cpuShare = async (pid: number, ms: number): Promise<number> => {
  const [cpu0, t0] = [cpuSeconds(pid), performance.now()]
  await new Promise((resolve) => setTimeout(resolve, ms))
  return (cpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000)
}

/** A GET that gives up after seconds: a service that hangs fails the test with a clear error. */
const get = (service: Service, path: string) =>
  fetch(`http://127.0.0.1:${service.port}${path}`, { signal: AbortSignal.timeout(8_000) }).then((response) => response.status)

/** Requests that log (a timeout, a client gone) and requests that fail (400, 404, 503). */
const logAndFail = async (service: Service) => {
  const base = `http://127.0.0.1:${service.port}`
  const statuses: Array<number> = []
  for (let i = 0; i < 5; i++) {
    statuses.push(await get(service, "/sleep?ms=5000")) // over REQUEST_TIMEOUT_MS: warn line, 503
    statuses.push(await get(service, "/sleep?ms=soon"))
    statuses.push(await get(service, "/no-such-route"))
    const aborted = new AbortController()
    const gone = fetch(`${base}/sleep?ms=2000`, { signal: aborted.signal }).catch(() => "aborted")
    aborted.abort()
    await gone
  }
  return statuses
}

const stderrLines = (service: Service) => service.stderr().split("\n").filter((line) => line !== "")

describe("a closed stdout", () => {
  it.each([
    ["stdout closed", false],
    ["stdout and stderr closed", true]
  ] as const)("%s: serves, no spin, SIGTERM -> exit 0 within seconds", async (_, closeStderr) => {
    // 1 s, not 50 ms: a loaded machine can take longer than 50 ms to answer the 400 and the 404.
    const service = await spawnService({ LOG_LEVEL: "debug", REQUEST_TIMEOUT_MS: "1000" })
    const stderrClosed = new Promise<void>((resolve) => service.child.stderr!.once("close", () => resolve()))
    service.child.stdout!.destroy()
    if (closeStderr) {
      service.child.stderr!.destroy()
      await waitFor(stderrClosed, 5_000, "stderr closed")
    }

    expect(await logAndFail(service)).toEqual(Array.from({ length: 5 }, () => [503, 400, 404]).flat())
    expect(await cpuShare(service.child.pid!, 1_000)).toBeLessThan(0.5)
    expect(await get(service, "/healthz")).toBe(200)

    const sent = service.signal("SIGTERM")
    const exited = await waitFor(service.exited, 8_000, "exit after SIGTERM")
    expect(exited.code).toBe(0)
    expect(exited.at - sent).toBeLessThan(5_000) // not the 10 s budget
    if (!closeStderr) {
      // Reported once on stderr, as one JSON line; nothing else there.
      const lines = stderrLines(service)
      expect(lines).toHaveLength(1)
      expect(JSON.parse(lines[0]!)).toMatchObject({ level: "error", message: expect.stringContaining("stdout failed"), error: "EPIPE" })
    }
  }, 120_000)

  it("the reader goes away while nothing is in flight (as with `| head -1`): the shutdown's own lines hit the closed pipe", async () => {
    const service = await spawnService({ LOG_LEVEL: "debug" })
    service.child.stdout!.destroy()
    const sent = service.signal("SIGTERM") // its "signal received" line is the first to hit the closed pipe
    const exited = await waitFor(service.exited, 8_000, "exit after SIGTERM")
    expect(exited.code).toBe(0)
    expect(exited.at - sent).toBeLessThan(5_000) // not the 10 s budget
    expect(stderrLines(service)).toHaveLength(1)
  }, 60_000)
})
