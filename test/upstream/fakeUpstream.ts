// A real node:http upstream on 127.0.0.1:0 whose every answer the test scripts, and which
// records when each request's socket closed (to prove cancellation from the upstream's side; a
// test waits on a socket's `closed`) and which socket each request came on (to prove reuse).
import * as Http from "node:http"
import type * as Net from "node:net"
import { onTestFinished } from "vitest"

export type Answer =
  | { readonly status: number; readonly body?: unknown } // JSON body
  | { readonly status: number; readonly text: string } // a body sent as it is (not JSON, or a big one)
  // headers, part of the body, then the socket destroyed (or, with `stall`, left open: the rest never comes)
  | { readonly status: number; readonly cut: { readonly contentLength: number; readonly sent: number; readonly stall?: true } }
  | "hang" // never answer

export interface UpstreamOptions {
  /**
   * Keep every connection open after the answer, even when the client asked for
   * `Connection: close` (an upstream or proxy that ignores it). The client is then the only
   * one who can release the socket.
   */
  readonly keepAliveRegardless?: boolean
}

export interface FakeUpstream {
  readonly url: string
  readonly requests: Array<{ readonly method: string; readonly at: number; readonly socket: number; closedAt?: number }>
  /** Every connection the upstream accepted, in order; `closedAt` once it closed. */
  readonly sockets: Array<{ readonly at: number; closedAt?: number; readonly closed: Promise<void> }>
  /** Answers for the next requests, in order; when empty, 200 {"ok":true}. */
  readonly script: Array<Answer>
  readonly close: () => Promise<void>
}

const answer = (response: Http.ServerResponse, socket: Net.Socket, scripted: Exclude<Answer, "hang">) => {
  if ("cut" in scripted) {
    response.writeHead(scripted.status, { "content-type": "application/json", "content-length": scripted.cut.contentLength })
    response.write("x".repeat(scripted.cut.sent), () => scripted.cut.stall || socket.destroy())
    return
  }
  const body = "text" in scripted ? scripted.text : JSON.stringify(scripted.body ?? {})
  response.writeHead(scripted.status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
  response.end(body)
}

export const startUpstream = async (options: UpstreamOptions = {}): Promise<FakeUpstream> => {
  const requests: FakeUpstream["requests"] = []
  const sockets: FakeUpstream["sockets"] = []
  const ids = new WeakMap<Net.Socket, number>()
  const script: Array<Answer> = []
  const server = Http.createServer((request, response) => {
    const socket = request.socket
    const entry: FakeUpstream["requests"][number] = { method: request.method ?? "", at: performance.now(), socket: ids.get(socket)! }
    requests.push(entry)
    socket.once("close", () => {
      entry.closedAt = performance.now()
    })
    // Node would honour the client's `Connection: close`; this upstream does not.
    if (options.keepAliveRegardless) response.shouldKeepAlive = true
    const scripted = script.shift() ?? { status: 200, body: { ok: true } }
    if (scripted !== "hang") answer(response, socket, scripted)
  })
  server.on("connection", (socket: Net.Socket) => {
    let closed = () => {}
    const entry: FakeUpstream["sockets"][number] = { at: performance.now(), closed: new Promise((resolve) => closed = resolve) }
    ids.set(socket, sockets.push(entry) - 1)
    socket.once("close", () => {
      entry.closedAt = performance.now()
      closed()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address() as { port: number }
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  onTestFinished(close)
  return { url: `http://127.0.0.1:${address.port}/data`, requests, sockets, script, close }
}
