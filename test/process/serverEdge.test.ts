// The server edge against the real process (node dist/main.js): hostile request-targets on both
// ports, an h2c upgrade, a 2 MiB chunked job body, parser errors. After all of it the process still
// serves, and SIGTERM still exits 0.
import { describe, expect, it, vi } from "vitest"
import { RawConnection } from "../support/RawConnection.js"
import { type Service, spawnService, waitFor } from "../support/spawnService.js"

// Real child processes: a start alone has taken over 10 s on a loaded machine (test:stress).
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 })

const badRequest = { error: "BadRequest", message: "the request-target is not a valid URL" }

const exchange = async (port: number, bytes: string) => {
  const connection = await RawConnection.open(port)
  connection.write(bytes)
  const response = await connection.nextResponse()
  connection.destroy()
  return response
}

const exitsCleanly = async (service: Service) => {
  expect((await fetch(`http://127.0.0.1:${service.port}/healthz`)).status).toBe(200)
  service.signal("SIGTERM")
  expect((await waitFor(service.exited, 5_000, "exit")).code).toBe(0)
  expect(service.lines.filter((line) => line.level === "error")).toEqual([])
}

describe("the server edge of the real service", () => {
  it("request-targets that are not URLs -> 400 JSON on the public and the admin port, upgrade or not", async () => {
    const service = await spawnService()
    for (const target of ["http://[", "//%", "http://a:b@[::1/x"]) {
      for (const port of [service.port, service.adminPort]) {
        const response = await exchange(port, `GET ${target} HTTP/1.1\r\nHost: t\r\n\r\n`)
        expect(response.status).toBe(400)
        expect(JSON.parse(response.body)).toEqual(badRequest)
      }
      const upgrade = await exchange(service.port, `GET ${target} HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`)
      expect(upgrade.status).toBe(400)
    }
    await exitsCleanly(service)
  }, 60_000)

  it("curl --http2 (Upgrade: h2c) on /healthz is served as HTTP/1.1", async () => {
    const service = await spawnService()
    const response = await exchange(
      service.port,
      "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"
    )
    expect(response.status).toBe(200)
    expect(JSON.parse(response.body)).toEqual({ status: "ok" })
    await exitsCleanly(service)
  }, 60_000)

  it("a malformed request line -> 400 JSON with Connection: close, a warn line without a stack", async () => {
    const service = await spawnService()
    const response = await exchange(service.port, "GET / HTTP/1.1 extra\r\nHost: t\r\n\r\n")
    expect(response.status).toBe(400)
    expect(response.headers["connection"]).toBe("close")
    expect(JSON.parse(response.body)).toEqual({ error: "BadRequest", message: "the request could not be parsed" })
    const line = await service.waitForLine((line) => line.kind === "BadRequest")
    expect(line.level).toBe("warn")
    expect(line.cause).toBeUndefined()
    await exitsCleanly(service)
  }, 60_000)
})
