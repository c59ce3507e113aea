// Fuzz: hostile frames on open WebSocket sessions (issue 16). Random and deep JSON, huge numbers,
// invalid UTF-8, binary, oversize and malformed frames, bursts of broadcasts. Every session either
// stays open and keeps answering, or is closed with the code that fits what it sent (1002, 1007,
// 1009); the bystander is never cut off; the process still serves and exits 0 on SIGTERM.
// Reproduce a failure with the seed it prints: FUZZ_SEED=<seed> npx vitest run test/websocket/fuzz-sessions.test.ts
import fc from "fast-check"
import { describe, it } from "vitest"
import { startHostileService } from "../support/HostileService.js"
import { describeClientFrames, frame, Opcode, RawWebSocket, type ServerFrame } from "../support/RawWebSocket.js"
import { stopReport } from "../fuzz/stopReport.js"

const SEED = Number(process.env.FUZZ_SEED ?? 16_003)
const RUNS = Number(process.env.FUZZ_RUNS ?? 150)
const TIME_LIMIT_MS = 8_000
const MAX_MESSAGE_BYTES = 32_768
/** BoundedJson.MAX_JSON_DEPTH: deeper messages get an error frame. */
const MAX_DEPTH = 32

/** One thing a hostile client does on its session, and what the server may answer with. */
interface Action {
  readonly name: string
  readonly bytes: Buffer
  /** What was sent, readable (the frame bytes are masked). */
  readonly shown: string
  /** Close codes that fit this input; none: the session must stay open. */
  readonly closes: ReadonlyArray<number>
  /** An echo the server owes (data as JSON text), when the message is a valid echo. */
  readonly echo?: string
  /** The server owes an error frame (and the session stays open). */
  readonly errorFrame?: boolean
}

const deep = (depth: number) => "[".repeat(depth) + "]".repeat(depth)
const text = (payload: string | Buffer) => frame(Opcode.Text, payload)

const actionWithoutShown: fc.Arbitrary<Omit<Action, "shown">> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.jsonValue({ maxDepth: 4 }).map((data) => {
      const json = JSON.stringify(data)
      return { name: "echo", bytes: text(`{"type":"echo","data":${json}}`), closes: [], echo: json }
    })
  },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((data) => ({ name: "broadcast", bytes: text(JSON.stringify({ type: "broadcast", data })), closes: [] })) },
  { weight: 2, arbitrary: fc.string({ maxLength: 200 }).map((s) => ({ name: "random text", bytes: text(s), closes: [] })) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(10_000, 5_000, MAX_DEPTH + 8).map((depth) => ({
      name: `echo of data ${depth} deep`,
      bytes: text(`{"type":"echo","data":${deep(depth)}}`),
      closes: [],
      errorFrame: true
    }))
  },
  { weight: 1, arbitrary: fc.constant({ name: "broadcast 10000 deep", bytes: text(`{"type":"broadcast","data":${deep(10_000)}}`), closes: [], errorFrame: true }) },
  { weight: 1, arbitrary: fc.constant({ name: "bare 10000 deep", bytes: text(deep(10_000)), closes: [], errorFrame: true }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("1e400", "-1e400", "9".repeat(1_000), `0.${"0".repeat(3_000)}1`).map((n) => ({
      name: "huge number",
      bytes: text(`{"type":"echo","data":${n}}`),
      closes: []
    }))
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]).map((bad) => ({
      name: "invalid UTF-8 text",
      bytes: text(Buffer.concat([Buffer.from('{"type":"echo","data":"'), Buffer.from(bad), Buffer.from('"}')])),
      closes: [1007]
    }))
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => ({ name: "binary", bytes: frame(Opcode.Binary, b), closes: [], errorFrame: true })) },
  { weight: 1, arbitrary: fc.constant({ name: "oversize text", bytes: text(`{"type":"echo","data":"${"x".repeat(MAX_MESSAGE_BYTES)}"}`), closes: [1009] }) },
  { weight: 1, arbitrary: fc.constant({ name: "declares 2^40 bytes", bytes: frame(Opcode.Text, "", { declaredLength: 2 ** 40 }), closes: [1009] }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      { name: "RSV1 set", bytes: frame(Opcode.Text, "{}", { rsv: 4 }) },
      { name: "unmasked", bytes: frame(Opcode.Text, "{}", { mask: false }) },
      { name: "opcode 3", bytes: frame(3, "x") },
      { name: "continuation first", bytes: frame(Opcode.Continuation, "x") },
      { name: "ping of 200 bytes", bytes: frame(Opcode.Ping, "x".repeat(200)) },
      { name: "fragmented ping", bytes: frame(Opcode.Ping, "x", { fin: false }) },
      { name: "close code 999", bytes: frame(Opcode.Close, Buffer.from([0x03, 0xe7])) },
      { name: "close with 1 byte", bytes: frame(Opcode.Close, Buffer.from([0x03])) },
      { name: "text, then text inside a fragment", bytes: Buffer.concat([frame(Opcode.Text, "[1,", { fin: false }), frame(Opcode.Text, "2]")]) }
    ).map((a) => ({ ...a, closes: [1002] }))
  },
  { weight: 1, arbitrary: fc.constant({ name: "close 1000", bytes: frame(Opcode.Close, Buffer.from([0x03, 0xe8])), closes: [1000] }) },
  { weight: 1, arbitrary: fc.constantFrom(Opcode.Ping, Opcode.Pong).map((op) => ({ name: `opcode ${op}`, bytes: frame(op, "hi"), closes: [] })) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(50, 300, 700).map((n) => ({
      name: `burst of ${n} broadcasts`,
      bytes: Buffer.concat(Array.from({ length: n }, (_, i) => text(`{"type":"broadcast","data":${i}}`))),
      closes: []
    }))
  }
)

const action: fc.Arbitrary<Action> = actionWithoutShown.map((a) => ({ ...a, shown: describeClientFrames(a.bytes) }))

const textFrames = (frames: ReadonlyArray<ServerFrame>) =>
  frames.filter((f) => f.opcode === Opcode.Text).map((f) => {
    try {
      return JSON.parse(f.payload.toString("utf8")) as { type?: unknown; data?: unknown; error?: unknown }
    } catch {
      return {}
    }
  })

describe("fuzz: hostile frames on open WebSocket sessions", () => {
  it("each session answers or closes with the fitting code; the bystander is never cut; exit 0 on SIGTERM", async () => {
    const hostile = await startHostileService({ WS_MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES) })
    const property = fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 4 }), async (actions) => {
      hostile.assertAlive("the previous session")
      const shown = actions.map((a) => `${a.name}: ${a.shown}`).join("; ")
      const session = await RawWebSocket.open(hostile.service.port).catch((error: Error) => error)
      if (session instanceof Error) {
        hostile.violate("handshake refused", `${session.message} (before: ${shown})`)
        return
      }
      try {
        // Up to the first action that must close the session: what follows it is never read.
        const closing = actions.findIndex((a) => a.closes.length > 0)
        const sent = closing === -1 ? actions : actions.slice(0, closing + 1)
        for (const a of sent) session.send(a.bytes)
        const probe = `probe-${Math.random().toString(36).slice(2)}`
        const mustClose = closing !== -1
        if (!mustClose) session.send(text(JSON.stringify({ type: "echo", data: probe })))
        const answered = await session.until(
          (frames) =>
            mustClose ? session.closeCode !== undefined : textFrames(frames).some((m) => m.type === "echo" && m.data === probe),
          4_000
        )
        const allowed = sent.flatMap((a) => a.closes)
        if (session.closeCode !== undefined && !allowed.includes(session.closeCode)) {
          hostile.violate(`session closed ${session.closeCode} after ${sent.map((a) => a.name).join(", ")}`, `${shown}\n    -> close ${session.closeCode}`)
        } else if (!answered) {
          hostile.violate(
            mustClose ? `no close ${allowed.join("/")} after ${sent.at(-1)!.name}` : `no answer after ${sent.map((a) => a.name).join(", ")}`,
            `${shown}\n    -> ${session.ended ? "socket closed without a close frame" : "silence for 4 s"}`
          )
        } else if (!mustClose) {
          // Frames queued before a close may be dropped with it: only an open session owes them.
          const messages = textFrames(session.frames)
          for (const a of sent) {
            if (a.echo !== undefined && !messages.some((m) => m.type === "echo" && JSON.stringify(m.data) === a.echo)) {
              hostile.violate("echo lost or changed", `${a.name}: ${a.shown}\n    -> echoes received: ${messages.filter((m) => m.type === "echo").map((m) => JSON.stringify(m.data)).join(", ").slice(0, 300)}`)
            }
          }
          const errorFrames = messages.filter((m) => m.type === "error").length
          const owed = sent.filter((a) => a.errorFrame === true).length
          if (errorFrames < owed) {
            const names = Array.from(new Set(sent.filter((a) => a.errorFrame === true).map((a) => a.name))).sort()
            hostile.violate(`no error frame for ${names.join(" / ")}`, `${shown}\n    -> ${errorFrames} error frames for ${owed} such messages`)
          }
        }
      } finally {
        session.destroy()
      }
      hostile.blameNewLogLines(shown)
      if (hostile.shuttingDown()) throw new Error(`the service began shutting down after ${shown}`)
    })
    const details = await fc.check(property, { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS, endOnFailure: true })
    console.log(`[fuzz] ws-sessions seed=${SEED} runs=${details.numRuns}/${RUNS}${details.interrupted ? " (time limit)" : ""}`)
    if (details.failed) hostile.violate("run stopped", stopReport(details))
    await hostile.finish()
  }, 40_000)
})
