// GET /debug/fibers: the live owned fibers, named, as an operator sees them.
import { describe, expect, it, vi } from "vitest"
import { RawConnection } from "../support/RawConnection.js"
import { spawnService, waitFor } from "../support/spawnService.js"

// Real child processes: a start alone has taken over 10 s on a loaded machine (test:stress).
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 })

interface Listed {
  readonly fiber: string
  readonly name: string
  readonly owner: string
  readonly startedAt: string
  readonly ageMs: number
}

describe("/debug/fibers", () => {
  it("lists a slow request while it runs, with the background fibers, and returns to baseline after", async () => {
    const service = await spawnService()
    const list = async () => {
      const response = await fetch(`http://127.0.0.1:${service.adminPort}/debug/fibers`)
      return ((await response.json()) as { fibers: Array<Listed> }).fibers
    }
    const baseline = (await list()).filter((fiber) => fiber.name !== "GET /debug/fibers")
    // The core's background fibers (features add theirs: test/jobs checks the workers).
    const core = baseline.filter((fiber) => fiber.owner.startsWith("http.") || fiber.owner === "observability")
    expect(core.map((fiber) => [fiber.name, fiber.owner]).sort()).toEqual([
      ["close connections on shutdown", "http.admin"],
      ["close connections on shutdown", "http.public"],
      ["process sampler", "observability"]
    ])

    const connection = await RawConnection.open(service.port)
    // 3 s: the polls below must catch it running even when a loaded machine answers them slowly.
    connection.request("/sleep?ms=3000")
    let during: Array<Listed> = []
    const deadline = performance.now() + 10_000
    while (performance.now() < deadline && !during.some((fiber) => fiber.name === "GET /sleep")) during = await list()
    const sleeping = during.find((fiber) => fiber.name === "GET /sleep")
    expect(sleeping).toMatchObject({ owner: "http.public", fiber: expect.stringMatching(/^#\d+$/) })
    expect(Date.parse(sleeping!.startedAt)).toBeGreaterThan(Date.now() - 5_000)
    expect(sleeping!.ageMs).toBeGreaterThanOrEqual(0)

    expect((await connection.nextResponse(10_000)).status).toBe(200)
    // The response is written before its fiber ends: wait for the list to be back at the baseline.
    const ids = (fibers: Array<Listed>) => fibers.filter((fiber) => fiber.name !== "GET /debug/fibers").map((fiber) => fiber.fiber).sort()
    const expected = ids(baseline)
    let after = ids(await list())
    for (const until = performance.now() + 5_000; JSON.stringify(after) !== JSON.stringify(expected) && performance.now() < until;) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      after = ids(await list())
    }
    expect(after).toEqual(expected)
    service.signal("SIGTERM")
    expect((await waitFor(service.exited, 10_000, "exit")).code).toBe(0)
  })
})
