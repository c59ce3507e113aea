// What RouteGate and BoundedBody add exists because the platform lacks it. These tests pin the
// platform's behaviour (HttpApiBuilder alone, no middleware of ours): when one fails after an
// upgrade, the platform does it now and our piece can go.
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpServer } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"

class Things extends HttpApiGroup.make("things")
  .add(HttpApiEndpoint.get("list", "/things").addSuccess(Schema.Number))
  .add(HttpApiEndpoint.post("add", "/things").setPayload(Schema.Struct({ value: Schema.Unknown })).addSuccess(Schema.Number))
{}
class Bare extends HttpApi.make("bare").add(Things) {}

/** The depth the handler saw: the platform hands any JSON it can parse to the handler. */
const ThingsLive = HttpApiBuilder.group(Bare, "things", (handlers) =>
  handlers
    .handle("list", () => Effect.succeed(0))
    .handle("add", ({ payload }) =>
      Effect.sync(() => {
        let depth = 0
        for (let value: unknown = payload.value; Array.isArray(value); value = value[0]) depth++
        return depth
      })))

const bare = () =>
  HttpApiBuilder.toWebHandler(Layer.mergeAll(HttpApiBuilder.api(Bare).pipe(Layer.provide(ThingsLive)), HttpServer.layerContext))

describe("platform gaps (HttpApiBuilder without our middleware)", () => {
  it.effect("a known path with another method is a plain 404: no 405, no Allow (RouteGate adds them)", () =>
    Effect.gen(function*() {
      const { dispose, handler } = bare()
      const response = yield* Effect.promise(() => handler(new Request("http://x/things", { method: "PUT" })))
      expect(response.status).toBe(404)
      expect(response.headers.get("allow")).toBeNull()
      const options = yield* Effect.promise(() => handler(new Request("http://x/things", { method: "OPTIONS" })))
      expect(options.status).toBe(404)
      yield* Effect.promise(dispose)
    }))

  it.effect("JSON of any depth reaches the handler (BoundedBody refuses it first)", () =>
    Effect.gen(function*() {
      const { dispose, handler } = bare()
      const body = `{"value":${"[".repeat(1_000)}${"]".repeat(1_000)}}`
      const response = yield* Effect.promise(() =>
        handler(new Request("http://x/things", { method: "POST", headers: { "content-type": "application/json" }, body }))
      )
      expect(response.status).toBe(200)
      expect(yield* Effect.promise(() => response.json())).toBe(1_000)
      yield* Effect.promise(dispose)
    }))
})
