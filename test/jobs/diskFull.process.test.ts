// Disk full under the embedded store (SQLite in DATA_DIR), for real: DATA_DIR on a small tmpfs
// that a filler file then fills to ENOSPC. The service must refuse new jobs with 503
// StoreUnavailable (never 500, never a 202 for a row it could not commit), report not ready,
// recover by itself once space is back, and after a restart every job it acknowledged is there
// and finishes. Needs root to mount; without it the test skips and says why (storeUnavailable.test.ts
// holds the same contract with a double of the SQL client that fails writes, root or not).
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { describe, expect, it, onTestFinished, vi } from "vitest"
import { type Answer, doneTwice, getJobs, postJob, readyz, storeOpened, submitJobs, waitForDoneLines, waitUntil } from "../support/jobClients.js"
import { type Service, spawnService, waitFor } from "../support/spawnService.js"

// Real child processes: a start alone has taken over 10 s on a loaded machine (test:stress).
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 })

/** Mounts a tmpfs of `size` under os.tmpdir(); unmounted (and removed) when the test ends,
 * after `before` ran (it stops the services still using it). Returns the mount point or the
 * reason it could not mount. */
const mountTmpfs = async (size: string, before: () => Promise<void>): Promise<string | { readonly reason: string }> => {
  if (process.getuid?.() !== 0) return { reason: "not running as root (mount needs it)" }
  const dir = await Fs.mkdtemp(Path.join(Os.tmpdir(), "jobs-diskfull-"))
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "pipe" })
  } catch (error) {
    await Fs.rmdir(dir)
    return { reason: `mount -t tmpfs failed: ${String((error as { stderr?: unknown }).stderr ?? error).trim()}` }
  }
  onTestFinished(async () => {
    await before()
    try {
      execFileSync("umount", [dir], { stdio: "pipe" })
    } catch {
      execFileSync("umount", ["-l", dir], { stdio: "pipe" }) // a straggler still holds a file: detach now
    }
    await Fs.rmdir(dir)
  })
  return dir
}

/** Writes zeros to `path` until the file system says ENOSPC; the file stays (delete to free). */
const fillDisk = async (path: string) => {
  const file = await Fs.open(path, "w")
  try {
    for (const size of [1 << 20, 1 << 12, 512]) {
      const chunk = Buffer.alloc(size)
      for (;;) {
        try {
          await file.write(chunk)
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === "ENOSPC") break
          throw error
        }
      }
    }
  } finally {
    await file.close().catch(() => undefined)
  }
}

const isStoreUnavailable = (answer: Answer) =>
  answer.status === 503 && answer.body?.error === "StoreUnavailable" && Number(answer.retryAfter) > 0

describe("disk full under the SQLite job store", () => {
  // Catches: SQLITE_FULL answered 500 (a defect), a 202 for a row that was never committed (gone
  // after the restart: GET 404), a /readyz that ignores the store, a store that stays broken
  // after the space comes back (no recovery without a restart), acknowledged jobs lost or run
  // twice across the restart.
  it("503 StoreUnavailable and not ready while the disk is full, recovers by itself, every 202'd job survives a restart", async (ctx) => {
    const services: Array<Service> = []
    const mount = await mountTmpfs("8m", async () => {
      for (const service of services) if (service.child.exitCode === null && service.child.signalCode === null) service.signal("SIGKILL")
      await Promise.all(services.map((service) => waitFor(service.exited, 5_000, "service killed before umount")))
    })
    if (typeof mount !== "string") {
      // CI runs as root with mount working: there, a skip must not pass silently.
      if (process.env.REQUIRE_SERVICES === "1") throw new Error(`REQUIRE_SERVICES=1: cannot run the disk-full test: ${mount.reason}`)
      console.warn(`*** disk-full test (issue 17) SKIPPED: ${mount.reason}`)
      return ctx.skip(`issue #17: ${mount.reason}`)
    }
    // A job whose completion could not be written during the outage stays claimed by that run:
    // a short lease lets the restarted service take it again within this test.
    const env = { DATA_DIR: Path.join(mount, "data"), WORKERS: "2", JOB_LEASE_MS: "2000", SHUTDOWN_TIMEOUT_MS: "2000" }
    const first = await spawnService(env)
    services.push(first)
    expect(await storeOpened(first)).toBe("sqlite")
    const acked = await submitJobs([first.port], 10, { ms: 50, concurrency: 4 })
    await waitForDoneLines([first], acked, 10_000)
    acked.push(...await submitJobs([first.port], 5, { ms: 50, concurrency: 1 }))

    const filler = Path.join(mount, "filler")
    await fillDisk(filler)
    // SQLite may still commit into WAL pages it already owns: a 202 now is fine as long as it is
    // true. Large payloads use up that room quickly; then every POST must be a 503.
    const big = "x".repeat(200_000)
    const refusals: Array<Answer> = []
    const unexpected: Array<Answer> = []
    for (let n = 0; n < 60 && refusals.length < 3; n++) {
      const answer = await postJob(first.port, { ms: 10, payload: { n, big } })
      if (answer.status === 202) acked.push(String(answer.body.id))
      else if (isStoreUnavailable(answer)) refusals.push(answer)
      else unexpected.push(answer)
    }
    expect(unexpected).toEqual([])
    expect(refusals.length).toBe(3)
    const small = await postJob(first.port, { ms: 10, payload: { n: "small" } })
    expect(isStoreUnavailable(small), JSON.stringify(small)).toBe(true)
    const notReady = await waitUntil("/readyz 503 not ready", async () => {
      const answer = await readyz(first.port)
      return answer.status === 503 ? answer : undefined
    }, 10_000)
    expect(notReady.body.status).toBe("not ready")
    expect(typeof notReady.body.reason).toBe("string")
    // The monitor's probe (about every second) logs the outage once.
    await first.waitForLine((line) => line.message === "job store unreachable", 5_000)

    await Fs.rm(filler)
    await waitUntil("/readyz 200 after the space came back", async () => ((await readyz(first.port)).status === 200 ? true : undefined), 10_000)
    await first.waitForLine((line) => line.message === "job store reachable again", 5_000)
    const after = await postJob(first.port, { ms: 10, payload: { n: "after" } })
    expect(after.status).toBe(202)
    acked.push(String(after.body.id))

    first.signal("SIGTERM")
    expect([0, 124]).toContain((await waitFor(first.exited, 10_000, "first exit")).code)
    const second = await spawnService(env)
    services.push(second)
    // Every acknowledged job was committed: it is there at once, before any of it runs again.
    const found = await getJobs(second.port, acked)
    expect(found.filter((answer) => answer.status !== 200).map((answer) => answer.body)).toEqual([])
    await waitForDoneLines([first, second], acked, 20_000)
    const answers = await getJobs(second.port, acked)
    expect(answers.filter((answer) => answer.body.state !== "done").map((answer) => answer.body)).toEqual([])
    expect(doneTwice([first, second])).toEqual([])
    second.signal("SIGTERM")
    expect((await waitFor(second.exited, 10_000, "second exit")).code).toBe(0)
  }, 180_000)
})
