// Each node patch of the draining server (src/http/ResponsePatches.ts, UpgradeFallback.ts) works
// around a behaviour of raw Node 20 or platform-node. These tests pin that behaviour WITHOUT our
// patch: when one of them fails, Node or the platform changed, and the patch it names can go
// (or must change). No server of ours runs here.
import { describe, expect, it } from "@effect/vitest"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Net from "node:net"
import { onTestFinished } from "vitest"

const TEST_TIMEOUT = 20_000

/** A raw node server on 127.0.0.1:0 with `setUp` wiring its events; closed after the test. */
const rawServer = async (setUp: (server: Http.Server) => void) => {
  const server = Http.createServer()
  setUp(server)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  onTestFinished(() => {
    server.closeAllConnections()
    server.close()
  })
  return (server.address() as AddressInfo).port
}

/** A client socket that collects what it receives; resolves `closed` with the bytes when it closes. */
const client = (port: number, bytes: string) => {
  const socket = Net.connect({ port, host: "127.0.0.1" })
  socket.on("error", () => undefined)
  onTestFinished(() => void socket.destroy())
  let received = ""
  socket.on("data", (chunk) => received += chunk.toString("latin1"))
  socket.write(bytes)
  return { socket, closed: new Promise<string>((resolve) => socket.once("close", () => resolve(received))) }
}

describe("node patches: the bugs they work around still exist", () => {
  it("ResponsePatches.keepSocketWhenBodyAbandoned: destroying a request whose body is still arriving destroys the socket; the answer is lost", async () => {
    const port = await rawServer((server) =>
      server.on("request", (request, response) => {
        // What platform-node does to a body it will not read (over the limit, or interrupted).
        request.destroy()
        response.writeHead(413, { "content-length": 2 }).end("no")
      })
    )
    const c = client(port, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n0123456789")
    expect(await c.closed).toBe("")
  }, TEST_TIMEOUT)

  it("ResponsePatches.lingerWhileBodyArrives: after a Connection: close answer Node closes the socket while the body is still arriving", async () => {
    let complete: boolean | undefined
    const port = await rawServer((server) =>
      server.on("request", (request, response) => {
        request.socket.once("close", () => complete = request.complete)
        response.writeHead(413, { "content-length": 2, "connection": "close" }).end("no")
      })
    )
    const c = client(port, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n0123456789")
    await c.closed
    // Closed with unread bytes: the kernel resets the connection and the client may lose the 413.
    expect(complete).toBe(false)
  }, TEST_TIMEOUT)

  it("UpgradeFallback: with an 'upgrade' listener, Node sends an h2c request there, never to 'request'", async () => {
    const seen: Array<string> = []
    const port = await rawServer((server) => {
      server.on("request", (_request, response) => {
        seen.push("request")
        response.end()
      })
      server.on("upgrade", (_request, socket) => {
        seen.push("upgrade")
        socket.destroy()
      })
    })
    const c = client(port, "GET / HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n")
    await c.closed
    expect(seen).toEqual(["upgrade"])
  }, TEST_TIMEOUT)
})
