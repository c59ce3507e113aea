// Fuzz: hostile WebSocket upgrade requests (issue 16). Malformed request-targets, odd methods,
// missing or bad Sec-WebSocket-* headers, bytes after the head: the answer is 101 or < 500, the
// bystander session stays open, and the process still serves and exits 0 on SIGTERM.
// Reproduce a failure with the seed it prints: FUZZ_SEED=<seed> npx vitest run test/websocket/fuzz-upgrade.test.ts
import fc from "fast-check"
import { describe, it } from "vitest"
import { printable, startHostileService } from "../support/HostileService.js"
import { exchange } from "../support/RawExchange.js"
import { frame, HANDSHAKE_KEY, Opcode } from "../support/RawWebSocket.js"
import { stopReport } from "../fuzz/stopReport.js"

const SEED = Number(process.env.FUZZ_SEED ?? 16_002)
const RUNS = Number(process.env.FUZZ_RUNS ?? 300)
const TIME_LIMIT_MS = 6_000

const TARGETS = [
  "/ws", "/ws", "/ws?%", "/ws?a=%ZZ", "http://[/ws", "//%/ws", "/ws#x", "/ws/../ws", "/WS", "/ws%00", "http://fuzz/ws",
  "/\\ws", "*", "//ws", "/ws/", "/ws;x", "/%77s", "http://[", "//%", "/ws?" + "%".repeat(2_000), "/ws\u00ff", "https://x:99999/ws"
]

/** A header of the handshake: absent, as it should be, or broken. */
const header = (name: string, good: string, bad: ReadonlyArray<string>) =>
  fc.oneof(
    { weight: 5, arbitrary: fc.constant(`${name}: ${good}\r\n`) },
    { weight: 1, arbitrary: fc.constant("") },
    { weight: 2, arbitrary: fc.constantFrom(...bad).map((value) => `${name}: ${value}\r\n`) }
  )

const upgradeRequest = fc.record({
  method: fc.oneof({ weight: 8, arbitrary: fc.constant("GET") }, { weight: 2, arbitrary: fc.constantFrom("POST", "HEAD", "PUT", "OPTIONS", "get", "PROPFIND") }),
  target: fc.oneof(fc.constantFrom(...TARGETS), fc.string({ maxLength: 20 }).map((s) => `/ws?${encodeURI(s)}`)),
  host: header("Host", "fuzz", ["[", "", "a b", "x:99999"]),
  upgrade: header("Upgrade", "websocket", ["WebSocket", "h2c", "", "websocket, foo", "websocket\u00ff"]),
  connection: header("Connection", "Upgrade", ["upgrade, keep-alive", "close", "", "Upgrade, Upgrade"]),
  key: header("Sec-WebSocket-Key", HANDSHAKE_KEY, ["x", "", "%%%%", "A".repeat(200), `${HANDSHAKE_KEY}\r\nSec-WebSocket-Key: ${HANDSHAKE_KEY}`]),
  version: header("Sec-WebSocket-Version", "13", ["8", "99", "", "13, 8", "-1", "1".repeat(50)]),
  extra: fc.array(fc.constantFrom(
    "Sec-WebSocket-Protocol: chat, , ,\r\n",
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=99\r\n",
    "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover=%\r\n",
    "Origin: http://[\r\n",
    "Content-Length: 5\r\n",
    "Transfer-Encoding: chunked\r\n",
    "Expect: 100-continue\r\n"
  ), { maxLength: 2 }),
  after: fc.oneof(
    fc.constant(Buffer.alloc(0)),
    fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
    fc.constant(frame(Opcode.Text, '{"type":"echo","data":"early"}')),
    fc.constant(frame(Opcode.Text, Buffer.from([0xff, 0xfe])))
  )
}).map((r) => ({
  ...r,
  bytes: Buffer.concat([
    Buffer.from(`${r.method} ${r.target} HTTP/1.1\r\n${r.host}${r.upgrade}${r.connection}${r.key}${r.version}${r.extra.join("")}\r\n`, "latin1"),
    r.after
  ])
}))

describe("fuzz: hostile WebSocket upgrade requests", () => {
  it("101 or < 500, never a crash; bystander untouched; /healthz 200; exit 0 on SIGTERM", async () => {
    const hostile = await startHostileService()
    const property = fc.asyncProperty(upgradeRequest, async (request) => {
      hostile.assertAlive("the previous upgrade request")
      // Short waits: a request still waiting for its body is not what this test is about.
      const result = await exchange(hostile.service.port, request.bytes, { headRequest: request.method === "HEAD", timeoutMs: 400 })
      const shown = printable(request.bytes)
      for (const response of result.responses) {
        if (response.status >= 500) hostile.violate(`upgrade answered ${response.status}`, `${shown}\n    -> ${response.status} ${response.body.slice(0, 200)}`)
      }
      hostile.blameNewLogLines(shown)
      if (hostile.shuttingDown()) throw new Error(`the service began shutting down after ${shown}`)
    })
    const details = await fc.check(property, { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS, endOnFailure: true })
    console.log(`[fuzz] upgrade seed=${SEED} runs=${details.numRuns}/${RUNS}${details.interrupted ? " (time limit)" : ""}`)
    if (details.failed) hostile.violate("run stopped", stopReport(details))
    await hostile.finish()
  }, 40_000)
})
