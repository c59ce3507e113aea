// ApiGroup.group is HttpApiBuilder.group with its per-request work done once: the same
// declaration built by each, served by the same public app, must answer every request the same
// (status, content type, body): path, URL, header and body decoding and their 400s, success
// status and encodings (JSON, 201, empty 204, text), a handler's own response (handleRaw
// included), a declared error, a ParseError from the handler, and a service only the group's
// layer provides (the platform merges the group's context into each request's).
import { HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, HttpServerResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Schema } from "effect"
import * as ApiGroup from "../../src/http/public/ApiGroup.js"
import { BaseApi } from "../../src/http/public/BaseApi.js"
import * as Core from "../../src/http/public/CoreApi.js"
import { startServing } from "../support/publicServer.js"

class Teapot extends Schema.TaggedError<Teapot>()("Teapot", { message: Schema.String }, HttpApiSchema.annotations({ status: 418 })) {}

class Probe extends HttpApiGroup.make("probe")
  .add(
    HttpApiEndpoint.get("item", "/probe/items/:id")
      .setPath(Schema.Struct({ id: Schema.NumberFromString }))
      .setUrlParams(Schema.Struct({ tag: Schema.optional(Schema.Array(Schema.String)), q: Schema.optional(Schema.String) }))
      .setHeaders(Schema.Struct({ "x-n": Schema.optional(Schema.NumberFromString) }))
      .addSuccess(Schema.Struct({ id: Schema.Number, tag: Schema.optional(Schema.Array(Schema.String)), q: Schema.optional(Schema.String), n: Schema.optional(Schema.Number) }))
  )
  .add(
    HttpApiEndpoint.post("create", "/probe/items")
      .setPayload(Schema.Struct({ name: Schema.String }))
      .addSuccess(Schema.Struct({ name: Schema.String }), { status: 201 })
  )
  .add(HttpApiEndpoint.del("remove", "/probe/items/:id").setPath(Schema.Struct({ id: Schema.String })))
  .add(HttpApiEndpoint.get("text", "/probe/text").addSuccess(HttpApiSchema.Text()))
  .add(HttpApiEndpoint.get("own", "/probe/own"))
  .add(HttpApiEndpoint.get("raw", "/probe/raw"))
  .add(HttpApiEndpoint.get("teapot", "/probe/teapot").addError(Teapot))
  .add(HttpApiEndpoint.get("parse", "/probe/parse").addSuccess(Schema.Number))
  .add(HttpApiEndpoint.get("service", "/probe/service").addSuccess(Schema.Struct({ greeting: Schema.String })))
{}

/** Provided to the group's layer only, not to the server. */
class Greeter extends Context.Tag("test/Greeter")<Greeter, { readonly greeting: string }>() {}

const build = (group: typeof HttpApiBuilder.group) =>
  group(BaseApi.add(Probe), "probe", (handlers) =>
    Effect.gen(function*() {
      const greeter = yield* Greeter
      return handlers
        .handle("item", ({ headers, path, urlParams }) => Effect.succeed({ id: path.id, ...urlParams, ...(headers["x-n"] === undefined ? {} : { n: headers["x-n"] }) }))
        .handle("create", ({ payload }) => Effect.succeed({ name: payload.name }))
        .handle("remove", () => Effect.void)
        .handle("text", () => Effect.succeed("plain words"))
        .handle("own", () => Effect.succeed(HttpServerResponse.text("own answer", { status: 203 })))
        .handleRaw("raw", ({ request }) => Effect.succeed(HttpServerResponse.text(`raw ${request.method}`, { status: 202 })))
        .handle("teapot", () => Effect.fail(new Teapot({ message: "short and stout" })))
        // A ParseError is not in the declared errors' type, but the platform answers it (400).
        .handle("parse", () => Schema.decodeUnknown(Schema.Number)("not a number") as unknown as Effect.Effect<number>)
        .handle("service", () => Effect.flatMap(Greeter, (g) => Effect.succeed({ greeting: `${g.greeting} ${greeter.greeting}` })))
    })).pipe(Layer.provide(Layer.succeed(Greeter, { greeting: "hello" })))

const servedWith = (group: typeof HttpApiBuilder.group) =>
  HttpApiBuilder.api(Core.CoreApi.add(Probe)).pipe(Layer.provide(Core.handlers), Layer.provide(build(group)))

const requests: ReadonlyArray<readonly [method: string, target: string, init?: { headers?: Record<string, string>; body?: string }]> = [
  ["GET", "/probe/items/7"],
  ["GET", "/probe/items/7?tag=a&q=x", { headers: { "x-n": "3" } }],
  ["GET", "/probe/items/7?tag=a&tag=b"],
  ["GET", "/probe/items/7?q=x&q=y"],
  ["GET", "/probe/items/seven"],
  ["GET", "/probe/items/7", { headers: { "x-n": "three" } }],
  ["POST", "/probe/items", { headers: { "content-type": "application/json" }, body: "{\"name\":\"n\"}" }],
  ["POST", "/probe/items", { headers: { "content-type": "application/json" }, body: "{\"name\":1}" }],
  ["POST", "/probe/items", { headers: { "content-type": "application/json" }, body: "{not json" }],
  ["DELETE", "/probe/items/x"],
  ["GET", "/probe/text"],
  ["HEAD", "/probe/text"],
  ["GET", "/probe/own"],
  ["GET", "/probe/raw"],
  ["GET", "/probe/teapot"],
  ["GET", "/probe/parse"],
  ["GET", "/probe/service"],
  ["GET", "/healthz"],
  ["GET", "/sleep?ms=0"],
  ["GET", "/sleep?ms=-1"]
]

const answers = (baseUrl: string) =>
  Effect.promise(() =>
    Promise.all(requests.map(async ([method, target, init]) => {
      const response = await fetch(`${baseUrl}${target}`, { method, ...init })
      return `${method} ${target} -> ${response.status} ${response.headers.get("content-type")} ${await response.text()}`
    }))
  )

describe("ApiGroup.group", () => {
  it.live("answers every request as HttpApiBuilder.group does", () =>
    Effect.gen(function*() {
      const platform = yield* Effect.scoped(Effect.flatMap(startServing({ features: Layer.empty, api: servedWith(HttpApiBuilder.group) }), (s) => answers(s.baseUrl)))
      const ours = yield* Effect.scoped(Effect.flatMap(startServing({ features: Layer.empty, api: servedWith(ApiGroup.group) }), (s) => answers(s.baseUrl)))
      expect(ours).toEqual(platform)
      // The comparison means something: the cases above do reach what they name.
      expect(platform).toContain("GET /probe/service -> 200 application/json {\"greeting\":\"hello hello\"}")
      expect(platform).toContain("GET /probe/items/7?tag=a&q=x -> 200 application/json {\"id\":7,\"tag\":[\"a\"],\"q\":\"x\",\"n\":3}")
      expect(platform.filter((line) => line.includes(" -> 400 ")).length).toBe(7)
    }))
})
