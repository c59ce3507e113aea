// The hub makes its ws WebSocketServer on the first upgrade, not when its layer is built: `ws` is
// a chunk loaded on first use (scripts/build.mjs), and a server made at startup would load it at
// every start (issue 21). Pinned here: none made by building the hub, one by the first upgrade,
// shared by the next; and a hub that never saw an upgrade still releases cleanly.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { vi } from "vitest"
import * as WebSocketFeature from "../../src/websocket/WebSocketFeature.js"
import { leakCheck } from "../support/LeakCheck.js"
import { startServing } from "../support/publicServer.js"
import { connect } from "./wsClients.js"
import { wsServed } from "./wsServed.js"

const servers = vi.hoisted(() => ({ made: 0 }))

vi.mock("ws", async (importOriginal) => {
  const actual = await importOriginal<typeof import("ws")>()
  class CountedServer extends actual.WebSocketServer {
    constructor(...args: ConstructorParameters<typeof actual.WebSocketServer>) {
      super(...args)
      servers.made += 1
    }
  }
  return { ...actual, WebSocketServer: CountedServer }
})

const echoes = (port: number, data: string) =>
  Effect.promise(async () => {
    const client = await connect(port)
    client.ws.send(JSON.stringify({ type: "echo", data }))
    const answer = await client.next(3_000)
    client.ws.close()
    return answer
  })

describe("the hub's WebSocketServer", { timeout: 10_000 }, () => {
  it.live("is made by the first upgrade, once, not when the hub is built", () =>
    leakCheck(Effect.gen(function*() {
      servers.made = 0
      const { port } = yield* startServing({ features: WebSocketFeature.layer, api: wsServed })
      expect(servers.made).toBe(0)
      expect(yield* echoes(port, "first")).toEqual({ type: "echo", data: "first" })
      expect(servers.made).toBe(1)
      expect(yield* echoes(port, "second")).toEqual({ type: "echo", data: "second" })
      expect(servers.made).toBe(1)
    })))

  it.live("is never made for a hub that saw no upgrade, and that hub releases cleanly", () =>
    leakCheck(Effect.gen(function*() {
      servers.made = 0
      const { port } = yield* startServing({ features: WebSocketFeature.layer, api: wsServed })
      const response = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/healthz`))
      expect(response.status).toBe(200)
      expect(servers.made).toBe(0)
    })))
})
