/**
 * The draining server: the platform's standard `HttpServer.HttpServer` (built with
 * `HttpServer.make({ serve, address })`) over a node http.Server that owns every socket and
 * every request fiber, so the API is served the standard way (`HttpServer.serve(app)`,
 * `HttpApiBuilder.serve()`) and still drains as the contract promises.
 *
 *   const Live = HttpServer.serve(app).pipe(Layer.provide(DrainingServer.layer(options)))
 *
 * Two scopes:
 * - make's scope (the layer's) owns the listener: listen at acquire; at release every socket
 *   left is destroyed and the http.Server closed (a backstop: the drain already did it).
 * - serve's scope owns the request fibers (a FiberSet) and THE DRAIN: when it closes, in the
 *   shutdown budget: drain delay (Connection: close) -> close the listener and idle sockets ->
 *   late requests on open sockets get 503 + Connection: close -> wait for in-flight requests and
 *   upgraded sockets -> at the deadline interrupt stragglers (503) -> destroy every socket
 *   (DrainPolicy.ts). With `HttpServer.serve(app)` as a layer, that is the serve layer's release.
 *
 * Files: Connections.ts (socket tracking, stats), DrainPolicy.ts (the drain's phases),
 * NodeEvents.ts (Node's events and the refusals), Serving.ts (running the app per request and per
 * upgrade), Refusals.ts, ServeError.ts; node patches in ../ResponsePatches.ts and
 * ../UpgradeFallback.ts (test/http/NodePatches.test.ts pins each bug).
 * Owns: the http.Server, every socket it accepts (upgraded ones too), the FiberSet of request
 *   fibers (serve's), the "Connection: close on shutdown" fiber (make's scope).
 * Does not own: the routes (the app given to serve) or the shutdown latch (it only reads it).
 * Released when: serve's scope closes (the drain), then make's scope (the backstop).
 */
import { HttpServer, type HttpMiddleware } from "@effect/platform"
import { Context, Deferred, type Duration, Effect, Exit, FiberSet, Layer, type Scope } from "effect"
import * as Http from "node:http"
import { FiberRegistry } from "../../lifecycle/FiberRegistry.js"
import * as NodeEdge from "../../lifecycle/NodeEdge.js"
import { Shutdown } from "../../lifecycle/Shutdown.js"
import { listenBacklog, nodeServerOptions } from "../NodeLimits.js"
import { MAX_BODY_BYTES } from "../public/ErrorsMiddleware.js"
import * as Connections from "./Connections.js"
import { drain } from "./DrainPolicy.js"
import { attach, type Serving } from "./NodeEvents.js"
import { ServeError } from "./ServeError.js"
import * as ServingContext from "./ServingContext.js"
import * as ServingApp from "./Serving.js"
import * as ScopeFinalizer from "../../lifecycle/ScopeFinalizer.js"

export { ServeError } from "./ServeError.js"

export interface Options {
  /** "public" or "admin": names log lines, phases and owned fibers. */
  readonly name: string
  readonly host: string
  readonly port: number
  readonly drainDelayMs: number
  readonly requestTimeoutMs: number
  /** A larger declared body is answered 413 before it is read (and without 100 Continue).
   * Default: the public API's MAX_BODY_BYTES. */
  readonly maxBodyBytes?: number
  /** The guard every Node callback goes through; made in this scope unless given (tests give
   * one that throws on purpose). */
  readonly edge?: NodeEdge.Edge
  /** Whoever holds sockets upgraded through this server (the WebSocket hub): told to go away
   * when the listener closes, bounded by `within`, while the HTTP drain runs. */
  readonly goAway?: ((within: Duration.Duration) => Effect.Effect<void>) | undefined
}

export interface Stats {
  readonly sockets: number
  readonly inFlight: number
  /** Whole request fibers, response writing included (the leak check). */
  readonly requestFibers: number
}

/** A started draining server. */
export interface Listener {
  /** The standard platform server: `serve(app)` it once. */
  readonly server: HttpServer.HttpServer
  /** Fails if the listener breaks after it started: a fatal failure of this component (the
   * app races it). */
  readonly failure: Effect.Effect<never, ServeError>
  readonly stats: () => Stats
  readonly name: string
  readonly host: string
  /** The bound port (the one asked for, or the kernel's pick for 0). */
  readonly port: number
}

/** The Listener beside `HttpServer.HttpServer` in `layer`: what the composition root needs that
 * the platform interface has no place for (`failure` for its race, `stats`, the name). Tag a
 * second server's layer with a tag of your own (see `layerAs`). */
export const Listener = Context.GenericTag<Listener>("app/DrainingServer/Listener")

// Effect.gen, not Effect.fn: a span here would be the parent of every line the edge and the
// shutdown fiber log for the server's whole life (JsonLogger prints the current span's ids).
export const make = (options: Options): Effect.Effect<Listener, ServeError, Scope.Scope | Shutdown | FiberRegistry> =>
  Effect.gen(function*() {
    const shutdown = yield* Shutdown
    const registry = yield* FiberRegistry
    const edge = options.edge ?? (yield* NodeEdge.make)
    const failure = yield* Deferred.make<never, ServeError>()
    const connections = Connections.make(edge)
    const server = Http.createServer(nodeServerOptions(options.requestTimeoutMs))
    let serving: Serving | undefined
    let requests: FiberSet.FiberSet | undefined
    attach({
      server,
      connections,
      edge,
      shutdown,
      maxBodyBytes: options.maxBodyBytes ?? MAX_BODY_BYTES,
      serving: () => serving
    })

    const listen = Effect.async<void, ServeError>((resume) => {
      const listenFailed = (cause: unknown) => resume(Effect.fail(new ServeError({ server: options.name, reason: "Listen", cause })))
      const onError = edge.guard("listen error", listenFailed)
      server.once("error", onError)
      server.listen({ host: options.host, port: options.port, backlog: listenBacklog }, edge.guard("listening", () => {
        server.off("error", onError)
        const broke = (cause: unknown) => Deferred.unsafeDone(failure, Exit.fail(new ServeError({ server: options.name, reason: "Runtime", cause })))
        server.on("error", edge.guard("server error", broke, broke))
        resume(Effect.void)
      }, listenFailed))
    })
    // The backstop: serve's drain normally did this already.
    yield* ScopeFinalizer.acquireRelease(listen, () =>
      Effect.sync(() => {
        for (const connection of connections.all()) connection.socket.destroy()
        server.close()
      }))
    // From the instant shutdown begins, responses not yet started carry Connection: close.
    yield* registry.fork("close connections on shutdown", `http.${options.name}`)(Effect.zipRight(
      shutdown.await,
      Effect.sync(() => {
        for (const connection of connections.all()) {
          const last = Array.from(connection.responses).at(-1)
          if (last !== undefined && !last.headersSent) last.setHeader("connection", "close")
        }
      })
    ))

    const serve = (app: Parameters<typeof ServingApp.make>[0], middleware?: HttpMiddleware.HttpMiddleware) =>
      Effect.gen(function*() {
        if (requests !== undefined) return yield* Effect.dieMessage(`${options.name} server: serve called twice`)
        // Made before the drain's finalizer is added, so it is released after it.
        const owned = yield* FiberSet.make()
        requests = owned
        serving = yield* ServingApp.make(app, middleware, { ...options, requests: owned, registry, shutdown, edge })
        yield* ScopeFinalizer.add(() =>
          drain({ ...options, server, connections, requests: owned, shutdown, registry, edge }).pipe(
            Effect.ensuring(Effect.sync(() => {
              serving = undefined
            }))
          )
        )
      })

    const address = server.address()
    const port = address !== null && typeof address === "object" ? address.port : options.port
    return {
      server: HttpServer.make({ serve, address: { _tag: "TcpAddress", hostname: options.host, port } }),
      failure: Deferred.await(failure),
      stats: () => ({ ...connections.unsafeStats(), requestFibers: requests === undefined ? 0 : Array.from(requests).length }),
      name: options.name,
      host: options.host,
      port
    } satisfies Listener
  })

/** `HttpServer.HttpServer` and `Listener` (and the platform's node context: HttpPlatform, Etag,
 * FileSystem, Path, which HttpApiBuilder.serve needs) from one draining server. */
export const layer = (options: Options) => layerAs(Listener, options)

/**
 * The same with the Listener under a tag of your own, for an app with two servers (admin and
 * public): give each serve layer its own server, e.g.
 *   HttpServer.serve(adminApp).pipe(Layer.provideMerge(DrainingServer.layerAs(AdminServer, adminOptions)))
 * The serve layer is released first (the drain), then this one (the backstop).
 */
export const layerAs = <I>(tag: Context.Tag<I, Listener>, options: Options) =>
  Layer.merge(
    Layer.scopedContext(Effect.map(make(options), (listener) =>
      Context.make(tag, listener).pipe(Context.add(HttpServer.HttpServer, listener.server)))),
    ServingContext.layer
  )
