// GET /debug/fibers: the live owned fibers, named, as an operator sees them.
import { describe, expect, it } from "vitest"
import { RawConnection } from "../support/RawConnection.js"
import { spawnService, waitFor } from "../support/spawnService.js"

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
    connection.request("/sleep?ms=400")
    let during: Array<Listed> = []
    const deadline = performance.now() + 2_000
    while (performance.now() < deadline && !during.some((fiber) => fiber.name === "GET /sleep")) during = await list()
    const sleeping = during.find((fiber) => fiber.name === "GET /sleep")
    expect(sleeping).toMatchObject({ owner: "http.public", fiber: expect.stringMatching(/^#\d+$/) })
    expect(Date.parse(sleeping!.startedAt)).toBeGreaterThan(Date.now() - 5_000)
    expect(sleeping!.ageMs).toBeGreaterThanOrEqual(0)

    expect((await connection.nextResponse()).status).toBe(200)
    const after = (await list()).filter((fiber) => fiber.name !== "GET /debug/fibers")
    expect(after.map((fiber) => fiber.fiber).sort()).toEqual(baseline.map((fiber) => fiber.fiber).sort())
    service.signal("SIGTERM")
    expect((await waitFor(service.exited, 5_000, "exit")).code).toBe(0)
  })
})
