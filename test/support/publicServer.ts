// The public listener in-process, built by App.ts's own makePublicListener: the feature layers
// given (none for the core) are built first, then the listener serves `api` (the core routes
// unless a test serves more, e.g. CoreApi.add(JobsFeature.Group)) on 127.0.0.1:0. The scope the
// test runs in owns it all; the features are released after the listener, as in the app.
import type { HttpApi } from "@effect/platform"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import * as App from "../../src/App.js"
import * as AppConfig from "../../src/config/AppConfig.js"
import { CoreApiLive } from "../../src/http/public/CoreApi.js"
import * as ReadinessChecks from "../../src/http/public/ReadinessChecks.js"
import * as GoingAway from "../../src/http/public/GoingAway.js"
import * as FiberRegistry from "../../src/lifecycle/FiberRegistry.js"
import * as Shutdown from "../../src/lifecycle/Shutdown.js"
import { ShutdownReason } from "../../src/lifecycle/ShutdownReason.js"
import * as TestConfig from "./testConfig.js"

type Needs =
  | AppConfig.AppConfig
  | Shutdown.Shutdown
  | FiberRegistry.FiberRegistry
  | ReadinessChecks.ReadinessChecks
  | GoingAway.GoingAway

export interface PublicServerOptions<ROut, E> {
  /** The feature layers to build first (App.ts's, e.g. WebSocketFeature.layer); none by default. */
  readonly features?: Layer.Layer<ROut, E, Needs>
  /** Environment variables (e.g. { WORKERS: "1" }), read by the core and the features given. */
  readonly config?: TestConfig.Env
}

/** The core routes, after the features given (none for the core alone). */
export const startPublic = <ROut = never, E = never>(options: PublicServerOptions<ROut, E> = {}) =>
  startServing({ ...options, features: options.features ?? Layer.empty, api: CoreApiLive })

/** `api` (HttpApiBuilder.api(...) with its groups' handlers provided, e.g. the core and a
 * feature's group) after `features`, which provide what its handlers need. */
export const startServing = <ROut, E, RA>(options: {
  readonly features: Layer.Layer<ROut, E, Needs>
  readonly api: Layer.Layer<HttpApi.Api, never, RA>
  readonly config?: TestConfig.Env | undefined
}) =>
  Effect.gen(function*() {
    const shutdown = yield* Shutdown.make(2_000)
    const registry = yield* FiberRegistry.make
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Effect.zipRight(shutdown.trigger(ShutdownReason.Completed()), Scope.close(scope, Exit.void)))
    const infrastructure = Layer.mergeAll(
      AppConfig.layer,
      Layer.succeed(Shutdown.Shutdown, shutdown),
      Layer.succeed(FiberRegistry.FiberRegistry, registry),
      ReadinessChecks.layer,
      GoingAway.layer
    )
    const listener = App.makePublicListener(options.api, {
      host: "127.0.0.1",
      port: 0,
      drainDelayMs: 0,
      requestTimeoutMs: 5_000
    })
    const services = yield* Layer.buildWithScope(
      listener.pipe(Layer.provideMerge(options.features), Layer.provideMerge(infrastructure), Layer.provide(TestConfig.layer(options.config))),
      scope
    )
    const server = Context.get(services, App.PublicListener)
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
