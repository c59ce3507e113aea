// GET /debug/shutdown counts WebSocket sessions under their owner without the core naming the
// feature: a session's fiber is listed as `ws.session/<id>` (owner "ws"), and its reader, writer
// and heartbeat (`ws.session/<id>/...`) are not counted again.
import { describe, expect, it } from "vitest"
import { spawnService, waitFor } from "../support/spawnService.js"
import { connect } from "./wsClients.js"

interface View {
  readonly phase: string
  readonly holding: Record<string, Record<string, unknown>>
}

const viewWhen = (adminPort: number, until: (view: View) => boolean, what: string) =>
  waitFor(
    (async () => {
      for (;;) {
        const view = await (await fetch(`http://127.0.0.1:${adminPort}/debug/shutdown`)).json() as View
        if (until(view)) return view
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    })(),
    10_000,
    what
  )

const sessions = (view: View) => view.holding["ws"]?.["ws.session"] ?? 0

describe("GET /debug/shutdown: WebSocket sessions", () => {
  it("counts each open session once, and forgets a closed one", async () => {
    const service = await spawnService()
    const [a, b] = await Promise.all([connect(service.port), connect(service.port)])
    for (const client of [a, b]) {
      client.ws.send(JSON.stringify({ type: "echo", data: 1 }))
      expect(await client.next(5_000)).toEqual({ type: "echo", data: 1 })
    }
    const both = await viewWhen(service.adminPort, (view) => sessions(view) === 2, "two sessions in the view")
    expect(both.phase).toBe("serving")
    expect(both.holding["ws"]).toEqual({ "ws.session": 2 })
    a.ws.close(1000)
    await a.closed
    await viewWhen(service.adminPort, (view) => sessions(view) === 1, "one session left in the view")
  }, 20_000)
})
