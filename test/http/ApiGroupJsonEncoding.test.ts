// ApiGroup encodes a JSON success without HttpServerResponse.json's Effect (issue 21): what the
// platform answers must not change, for a value JSON.stringify takes and for one it refuses
// (a BigInt inside an Unknown success), and for a declared status.
import { HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import * as ApiGroup from "../../src/http/public/ApiGroup.js"
import { BaseApi } from "../../src/http/public/BaseApi.js"
import * as Core from "../../src/http/public/CoreApi.js"
import { startServing } from "../support/publicServer.js"

class Encoding extends HttpApiGroup.make("encoding")
  .add(HttpApiEndpoint.get("fine", "/encoding/fine").addSuccess(Schema.Struct({ n: Schema.Number }), { status: 201 }))
  .add(HttpApiEndpoint.get("refused", "/encoding/refused").addSuccess(Schema.Unknown))
{}

const build = (group: typeof HttpApiBuilder.group) =>
  group(BaseApi.add(Encoding), "encoding", (handlers) =>
    handlers
      .handle("fine", () => Effect.succeed({ n: 1 }))
      .handle("refused", () => Effect.succeed({ n: BigInt(1) })))

const servedWith = (group: typeof HttpApiBuilder.group) =>
  HttpApiBuilder.api(Core.CoreApi.add(Encoding)).pipe(Layer.provide(Core.handlers), Layer.provide(build(group)))

const answers = (baseUrl: string) =>
  Effect.promise(() =>
    Promise.all(["/encoding/fine", "/encoding/refused"].map(async (target) => {
      const response = await fetch(`${baseUrl}${target}`)
      return `${target} -> ${response.status} ${response.headers.get("content-type")} ${await response.text()}`
    }))
  )

describe("ApiGroup.group: JSON success encoding", () => {
  it.live("answers as HttpApiBuilder.group does, when JSON.stringify succeeds and when it throws", () =>
    Effect.gen(function*() {
      const platform = yield* Effect.scoped(Effect.flatMap(startServing({ features: Layer.empty, api: servedWith(HttpApiBuilder.group) }), (s) => answers(s.baseUrl)))
      const ours = yield* Effect.scoped(Effect.flatMap(startServing({ features: Layer.empty, api: servedWith(ApiGroup.group) }), (s) => answers(s.baseUrl)))
      expect(ours).toEqual(platform)
      expect(platform[0]).toBe("/encoding/fine -> 201 application/json {\"n\":1}")
      expect(platform[1]).not.toContain(" -> 200 ")
    }))
})
