// No job is lost once 202 was sent, and none runs again after it was recorded done: across a
// shutdown that cuts the queue short and a restart on the same DATA_DIR.
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import { parsePrometheus, valueOf } from "../support/parsePrometheus.js"
import { type Service, spawnService, waitFor } from "../support/spawnService.js"

const submitAll = async (service: Service, count: number, concurrency: number) => {
  const ids: Array<string> = []
  let next = 0
  const worker = async () => {
    while (next < count) {
      next += 1
      const response = await fetch(`http://127.0.0.1:${service.port}/jobs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ms: 20, payload: { n: next } })
      })
      expect(response.status).toBe(202)
      ids.push(((await response.json()) as { id: string }).id)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return ids
}

const stateOf = async (service: Service, id: string) =>
  ((await (await fetch(`http://127.0.0.1:${service.port}/jobs/${id}`)).json()) as { state: string }).state

describe("jobs in the real process", () => {
  it("1,000 jobs accepted, SIGTERM mid-way with a short budget, restart: all done, none done twice", async () => {
    const dataDir = await Fs.mkdtemp(Path.join(Os.tmpdir(), "jobs-e2e-"))
    const env = { DATA_DIR: dataDir, WORKERS: "4", JOB_QUEUE_SIZE: "2000", SHUTDOWN_TIMEOUT_MS: "300" }

    const first = await spawnService(env)
    const ids = await submitAll(first, 1_000, 25)
    expect(new Set(ids).size).toBe(1_000)
    first.signal("SIGTERM")
    const firstExit = await waitFor(first.exited, 5_000, "first exit")
    expect(firstExit.code).toBe(124) // the deadline cut the queue short, as intended
    expect(first.lines.some((line) => line.message === "deadline reached: interrupting jobs; they stay queued for the next start")).toBe(true)

    const second = await spawnService(env)
    const resumed = second.lines.find((line) => line.message === "resuming unfinished jobs")
    expect(Number(resumed?.jobs)).toBeGreaterThan(0)
    const deadline = performance.now() + 20_000
    while (performance.now() < deadline && (await stateOf(second, ids.at(-1)!)) !== "done") {
      await new Promise((resolve) => setTimeout(resolve, 100)) // polling the route under test
    }
    const states = await Promise.all(ids.map((id) => stateOf(second, id)))
    expect(states.filter((state) => state !== "done")).toEqual([])
    second.signal("SIGTERM")
    expect((await waitFor(second.exited, 5_000, "second exit")).code).toBe(0)

    const journal = (await Fs.readFile(Path.join(dataDir, "jobs.jsonl"), "utf8")).trimEnd().split("\n").map((line) => JSON.parse(line))
    const done = new Map<string, number>()
    for (const record of journal) if (record.op === "state" && record.state === "done") done.set(record.id, (done.get(record.id) ?? 0) + 1)
    expect(done.size).toBe(1_000)
    expect([...done.values()].every((count) => count === 1)).toBe(true)
  }, 60_000)

  it("the workers are owned fibers, the queue is in /metrics; the pool drains after the public server and before the admin listener", async () => {
    const dataDir = await Fs.mkdtemp(Path.join(Os.tmpdir(), "jobs-e2e-"))
    const service = await spawnService({ DATA_DIR: dataDir, WORKERS: "3" })
    const listed = (await (await fetch(`http://127.0.0.1:${service.adminPort}/debug/fibers`)).json()) as {
      fibers: Array<{ name: string; owner: string }>
    }
    expect(listed.fibers.filter((fiber) => fiber.owner === "jobs").map((fiber) => fiber.name).sort()).toEqual([
      "jobs.worker/1",
      "jobs.worker/2",
      "jobs.worker/3"
    ])
    const [id] = await submitAll(service, 1, 1)
    const deadline = performance.now() + 2_000
    while (performance.now() < deadline && (await stateOf(service, id!)) !== "done") await new Promise((resolve) => setTimeout(resolve, 10))
    const families = parsePrometheus(await (await fetch(`http://127.0.0.1:${service.adminPort}/metrics`)).text())
    expect(valueOf(families, "jobs_queue_depth")).toBe(0)
    expect(valueOf(families, "jobs_total", { state: "done" })).toBe(1)
    service.signal("SIGTERM")
    expect((await waitFor(service.exited, 5_000, "exit")).code).toBe(0)
    const phases = service.lines.filter((line) => line.message === "shutdown phase").map((line) => `${line.phase}/${line.server ?? ""}`)
    const at = (phase: string) => phases.indexOf(phase)
    expect(at("drain/public")).toBeGreaterThanOrEqual(0)
    expect([at("drain/public"), at("jobs-drain/"), at("jobs-stop/"), at("close-listener/admin")]).toEqual(
      [at("drain/public"), at("jobs-drain/"), at("jobs-stop/"), at("close-listener/admin")].sort((a, b) => a - b)
    )
    expect(at("jobs-drain/")).toBeGreaterThan(at("drain/public"))
  })
})
