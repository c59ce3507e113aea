// WebSocket clients for tests (the `ws` package), opened against a running service and always
// terminated when the test ends.
import { onTestFinished } from "vitest"
import WebSocket from "ws"
import { waitFor } from "../support/spawnService.js"

export interface Client {
  readonly ws: WebSocket
  readonly messages: Array<unknown>
  readonly closed: Promise<{ readonly code: number; readonly reason: string }>
  /** The next message (waits for it). */
  readonly next: (timeoutMs?: number) => Promise<unknown>
}

export const connect = (port: number, options: WebSocket.ClientOptions = {}, path = "/ws"): Promise<Client> => {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, options)
  onTestFinished(() => ws.terminate())
  const messages: Array<unknown> = []
  let read = 0
  const waiters = new Set<() => void>()
  ws.on("message", (data, isBinary) => {
    messages.push(isBinary ? data : JSON.parse(data.toString()))
    for (const wake of waiters) wake()
  })
  ws.on("error", () => undefined)
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() }))
  )
  const next = (timeoutMs = 5_000) =>
    waitFor(
      new Promise<unknown>((resolve) => {
        const check = () => {
          if (read < messages.length) {
            waiters.delete(check)
            resolve(messages[read++])
          }
        }
        waiters.add(check)
        check()
      }),
      timeoutMs,
      "a WebSocket message"
    )
  return waitFor(
    new Promise<Client>((resolve, reject) => {
      ws.once("open", () => resolve({ ws, messages, closed, next }))
      ws.once("unexpected-response", (_, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)))
      ws.once("error", reject)
    }),
    10_000, // 100 upgrades at once on a loaded machine can take seconds
    "a WebSocket connection"
  )
}
