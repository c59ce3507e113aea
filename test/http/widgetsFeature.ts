// A feature only the tests declare: its routes are served (and gated) only because the public
// app derives everything from the API it serves. POST /widgets echoes the JSON it decoded, so
// a body that would blow the stack when written back out reaches JSON.stringify unless refused.
import { HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Effect, Layer, Schema } from "effect"
import { BaseApi } from "../../src/http/public/BaseApi.js"
import * as Core from "../../src/http/public/CoreApi.js"

export const NewWidget = Schema.Struct({ size: Schema.Int, data: Schema.optional(Schema.Unknown) })

export class Widgets extends HttpApiGroup.make("widgets")
  .add(HttpApiEndpoint.get("list", "/widgets").addSuccess(Schema.Array(Schema.String)))
  .add(HttpApiEndpoint.post("add", "/widgets").setPayload(NewWidget).addSuccess(NewWidget))
  .add(
    HttpApiEndpoint.patch("rename", "/widgets/:name")
      .setPath(Schema.Struct({ name: Schema.String }))
      .setPayload(Schema.Struct({ to: Schema.String }))
  )
  .add(HttpApiEndpoint.del("remove", "/widgets/:name").setPath(Schema.Struct({ name: Schema.String })))
{}

const WidgetsLive = HttpApiBuilder.group(BaseApi.add(Widgets), "widgets", (handlers) =>
  handlers
    .handle("list", () => Effect.succeed(["a"]))
    .handle("add", ({ payload }) => Effect.succeed(payload))
    .handle("rename", () => Effect.void)
    .handle("remove", () => Effect.void))

/** The core routes and the widgets, for startPublic's `api`. */
export const served = HttpApiBuilder.api(Core.CoreApi.add(Widgets)).pipe(Layer.provide(Core.handlers), Layer.provide(WidgetsLive))
