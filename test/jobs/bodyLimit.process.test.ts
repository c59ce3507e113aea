// A body over 1 MiB on the jobs route, through the real service: a readable 413, not a reset.
// (Beside the feature: the core has no route that takes a body.)
import { rmSync } from "node:fs"
import { describe, expect, it, onTestFinished, vi } from "vitest"
import { RawConnection } from "../support/RawConnection.js"
import { spawnService, waitFor } from "../support/spawnService.js"

// Real child processes: a start alone has taken over 10 s on a loaded machine (test:stress).
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 })

describe("POST /jobs bodies over the limit", () => {
  it("POST /jobs streaming 2 MiB chunked -> a readable 413 PayloadTooLarge, then the connection closes", async () => {
    const dataDir = `/tmp/edge-jobs-${process.pid}-${Date.now()}`
    onTestFinished(() => rmSync(dataDir, { recursive: true, force: true }))
    const service = await spawnService({ DATA_DIR: dataDir })
    const connection = await RawConnection.open(service.port)
    connection.write("POST /jobs HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    const chunk = "x".repeat(16 * 1024)
    const head = `{"ms":1,"payload":"`
    connection.write(`${head.length.toString(16)}\r\n${head}\r\n`)
    for (let sent = 0; sent < 2 * 1024 * 1024; sent += chunk.length) connection.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`)
    connection.write("0\r\n\r\n")
    const response = await connection.nextResponse()
    expect(response.status).toBe(413)
    expect(response.headers["connection"]).toBe("close")
    expect(JSON.parse(response.body)).toMatchObject({ error: "PayloadTooLarge" })
    await waitFor(connection.closed, 5_000, "socket close")
    expect((await fetch(`http://127.0.0.1:${service.port}/healthz`)).status).toBe(200)
    service.signal("SIGTERM")
    expect((await waitFor(service.exited, 5_000, "exit")).code).toBe(0)
    expect(service.lines.filter((line) => line.level === "error")).toEqual([])
  }, 60_000)

})
