// A feature only the tests declare: its routes are served (and gated) only because the public
// app derives everything from the groups it is given. POST /widgets echoes the JSON it decoded, so
// a body that would blow the stack when written back out reaches JSON.stringify unless refused.
import { HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Effect, Layer, Schema } from "effect"
import { PublicApi } from "../../src/http/public/Api.js"
import * as PublicRoutes from "../../src/http/public/PublicRoutes.js"

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

const WidgetsLive = HttpApiBuilder.group(PublicApi.add(Widgets), "widgets", (handlers) =>
  handlers
    .handle("list", () => Effect.succeed(["a"]))
    .handle("add", ({ payload }) => Effect.succeed(payload))
    .handle("rename", () => Effect.void)
    .handle("remove", () => Effect.void))

export const layer = Layer.effectDiscard(Effect.flatMap(PublicRoutes.PublicRoutes, (routes) => routes.addGroup(Widgets, WidgetsLive)))
