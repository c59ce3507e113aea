// Secure by default, and secrets in no log line: the real entry point, its real stdout and stderr.
import { existsSync } from "node:fs"
import { describe, expect, it, vi } from "vitest"
import { spawnService, waitFor, type Service } from "../support/spawnService.js"

// Real child processes: a start alone has taken over 10 s on a loaded machine (test:stress).
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 })

const SECRET = "s3cr3t"

/** A bad value for each optional feature's secret, while the feature is installed: its settings go
 * with its folder (scripts/check-removable.mjs deletes it), and a deleted feature's are not read. */
const installedFeatureSecrets: Record<string, string> = Object.fromEntries([
  ["upstream", "UPSTREAM_URL", `ftp://user:${SECRET}@x`],
  ["jobs", "DATABASE_URL", `mysql://u:${SECRET}@h/db`],
  ["websocket", "REDIS_URL", `http://:${SECRET}@cache`]
].filter(([folder]) => existsSync(`src/${folder}`)).map(([, variable, value]) => [variable, value]))
const expectedForms = { UPSTREAM_URL: "an http:// or https:// URL", DATABASE_URL: "a postgres:// URL", REDIS_URL: "a redis:// or rediss:// URL" }

/** Every byte the child wrote, stdout (parsed lines, re-serialised) and stderr. */
const everything = (service: Service) => JSON.stringify(service.lines) + service.stderr()

describe("secure by default", () => {
  it("ADMIN_HOST=0.0.0.0 without ADMIN_TOKEN -> refuses to start: exit 1, one line naming ADMIN_TOKEN and ADMIN_HOST", async () => {
    const service = await spawnService({ ADMIN_HOST: "0.0.0.0" }, { waitForListening: false })
    const exited = await waitFor(service.exited, 5_000, "exit")
    expect(exited.code).toBe(1)
    expect(service.lines).toHaveLength(1)
    const [line] = service.lines
    expect(line).toMatchObject({ level: "error", variables: ["ADMIN_TOKEN"] })
    expect(line!.message).toContain("ADMIN_TOKEN")
    expect(line!.message).toContain("ADMIN_HOST (0.0.0.0)")
    expect(service.stderr()).toBe("")
  })

  it("invalid values of secret variables -> exit 1, one line naming each, no line holding the secret", async () => {
    const service = await spawnService({
      ...installedFeatureSecrets,
      // A bad core setting too, so the start fails even in a copy without any feature.
      PORT: "x",
      ADMIN_HOST: "0.0.0.0",
      ADMIN_TOKEN: `${SECRET}-token`
    }, { waitForListening: false })
    const exited = await waitFor(service.exited, 5_000, "exit")
    expect(exited.code).toBe(1)
    expect(service.lines).toHaveLength(1)
    expect(service.lines[0]!.variables).toEqual(expect.arrayContaining(["PORT", ...Object.keys(installedFeatureSecrets)]))
    for (const [variable, form] of Object.entries(expectedForms)) {
      if (variable in installedFeatureSecrets) expect(service.lines[0]!.message).toContain(`${variable}: expected ${form}`)
    }
    expect(everything(service)).not.toContain(SECRET)
  })

  it("valid secrets are used and appear in no line, from listening to shutdown complete", async () => {
    const token = `${SECRET}-token`
    const service = await spawnService({
      UPSTREAM_URL: `http://user:${SECRET}@127.0.0.1:1/`,
      // DATABASE_URL is used as soon as it is set: test/jobs/databaseSecrets.process.test.ts
      REDIS_URL: `redis://:${SECRET}@cache.example`,
      ADMIN_HOST: "0.0.0.0",
      ADMIN_TOKEN: token,
      LOG_LEVEL: "debug"
    })
    // /upstream using its URL, failure logged: test/upstream/upstreamSecrets.process.test.ts
    expect((await fetch(`http://127.0.0.1:${service.adminPort}/metrics`)).status).toBe(401)
    const shutdown = await fetch(`http://127.0.0.1:${service.adminPort}/admin/shutdown`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` }
    })
    expect(shutdown.status).toBe(202)
    expect((await waitFor(service.exited, 5_000, "exit")).code).toBe(0)
    expect(service.lines.find((line) => line.message === "shutdown")).toMatchObject({ reason: "admin" })
    expect(service.lines.length).toBeGreaterThan(3)
    expect(everything(service)).not.toContain(SECRET)
  })
})
