// Stock @effect/platform-node: HttpServer + HttpRouter with the same routes, no logging middleware,
// no metrics, the default tracer, NodeRuntime.runMain. What a team gets before adopting this skeleton.
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { createServer } from "node:http"

const sleep = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const ms = Number(new URL(request.url, "http://x").searchParams.get("ms"))
  yield* Effect.sleep(ms)
  return yield* HttpServerResponse.json({ sleptMs: ms })
})

const router = HttpRouter.empty.pipe(
  HttpRouter.get("/healthz", HttpServerResponse.json({ status: "ok" })),
  HttpRouter.get("/sleep", sleep)
)

const ServerLive = HttpServer.serve(router).pipe(
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)

const main = Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  const address = server.address
  console.log(JSON.stringify({ message: "listening", port: address._tag === "TcpAddress" ? address.port : 0 }))
  return yield* Effect.never
})

NodeRuntime.runMain(Effect.provide(main, ServerLive), { disablePrettyLogger: true })
