// A real node:http upstream on 127.0.0.1:0 whose every answer the test scripts, and which
// records when each request's socket closed (to prove cancellation from the upstream's side).
import * as Http from "node:http"
import { onTestFinished } from "vitest"

export type Answer =
  | { readonly status: number; readonly body?: unknown }
  | "hang" // never answer

export interface FakeUpstream {
  readonly url: string
  readonly requests: Array<{ readonly method: string; readonly at: number; closedAt?: number }>
  /** Answers for the next requests, in order; when empty, 200 {"ok":true}. */
  readonly script: Array<Answer>
  readonly close: () => Promise<void>
}

export const startUpstream = async (): Promise<FakeUpstream> => {
  const requests: FakeUpstream["requests"] = []
  const script: Array<Answer> = []
  const server = Http.createServer((request, response) => {
    const entry: FakeUpstream["requests"][number] = { method: request.method ?? "", at: performance.now() }
    requests.push(entry)
    request.socket.once("close", () => {
      entry.closedAt = performance.now()
    })
    const answer = script.shift() ?? { status: 200, body: { ok: true } }
    if (answer === "hang") return
    const body = JSON.stringify(answer.body ?? {})
    response.writeHead(answer.status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
    response.end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address() as { port: number }
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  onTestFinished(close)
  return { url: `http://127.0.0.1:${address.port}/data`, requests, script, close }
}
