// The public server in-process, built by App.ts's own makePublicServer: the features given (none
// for the core) add their routes, then the server is built on 127.0.0.1:0. The scope the test runs
// in owns it all; the features are released after the server, as in the app.
import { Effect, Exit, Layer, Scope } from "effect"
import * as App from "../../src/App.js"
import * as AppConfig from "../../src/config/AppConfig.js"
import * as PublicRoutes from "../../src/http/public/PublicRoutes.js"
import * as FiberRegistry from "../../src/lifecycle/FiberRegistry.js"
import * as Shutdown from "../../src/lifecycle/Shutdown.js"
import { ShutdownReason } from "../../src/lifecycle/ShutdownReason.js"
import * as TestConfig from "./testConfig.js"

type Needs = AppConfig.AppConfig | Shutdown.Shutdown | FiberRegistry.FiberRegistry | PublicRoutes.PublicRoutes

export interface PublicServerOptions<ROut, E> {
  /** The feature layers to serve (App.ts's, e.g. JobsFeature.layer); none serves the core routes. */
  readonly features?: Layer.Layer<ROut, E, Needs>
  /** Environment variables (e.g. { WORKERS: "1" }), read by the core and the features given. */
  readonly config?: TestConfig.Env
}

export const startPublic = <ROut = never, E = never>(options: PublicServerOptions<ROut, E> = {}) =>
  Effect.gen(function*() {
    const shutdown = yield* Shutdown.make(2_000)
    const registry = yield* FiberRegistry.make
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Effect.zipRight(shutdown.trigger(ShutdownReason.Completed()), Scope.close(scope, Exit.void)))
    const infrastructure = Layer.mergeAll(
      AppConfig.layer,
      Layer.succeed(Shutdown.Shutdown, shutdown),
      Layer.succeed(FiberRegistry.FiberRegistry, registry),
      PublicRoutes.layer
    )
    const services = yield* Layer.buildWithScope(
      Layer.provideMerge(options.features ?? Layer.empty, infrastructure).pipe(Layer.provide(TestConfig.layer(options.config))),
      scope
    )
    const server = yield* App.makePublicServer({ host: "127.0.0.1", port: 0, drainDelayMs: 0, requestTimeoutMs: 5_000 }).pipe(
      Effect.provide(services),
      Scope.extend(scope)
    )
    return { baseUrl: `http://127.0.0.1:${server.port}`, port: server.port, shutdown, registry }
  })

export const get = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    return { status: response.status, type: response.headers.get("content-type"), body: (await response.json()) as any }
  })

export const post = (url: string, body: string | ReadableStream<Uint8Array>) =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      ...(typeof body === "string" ? {} : { duplex: "half" })
    } as RequestInit)
    return { status: response.status, retryAfter: response.headers.get("retry-after"), body: (await response.json()) as any }
  })
