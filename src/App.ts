// Composition root: the public API (composed statically, below), which layers exist, in which
// order, and the main race.
//
// Layers are built into one root scope in acquisition order (signals, sampler, admin listener,
// the optional features, public listener), so the scope releases them in reverse: the public
// listener drains first, then each feature (the job pool stops, then its store closes); the
// admin listener stays up until the end and signal handlers go last. A feature is one folder and
// the lines here naming its module (its settings, its group, its handlers, its layer), so deleting one is
// deleting its folder, its tests and those lines (scripts/check-removable.mjs proves it in CI).
// The main program then races
//   (a) the servers or the process failing, (b) the first signal, (c) the shutdown latch (admin),
// and whichever finishes first is the shutdown reason; the others are interrupted.
import { type HttpApi, HttpApiBuilder, HttpServer } from "@effect/platform"
import { Cause, Config, Context, Effect, Either, Layer, Scope } from "effect"
import { AppConfig, config as coreConfig } from "./config/AppConfig.js"
import * as AdminApp from "./http/admin/AdminApp.js"
import { BaseApi } from "./http/public/BaseApi.js"
import * as CoreApi from "./http/public/CoreApi.js"
import * as PublicHttpApp from "./http/public/PublicHttpApp.js"
import * as ReadinessChecks from "./http/public/ReadinessChecks.js"
import * as GoingAway from "./http/public/GoingAway.js"
import * as DrainingServer from "./http/server/DrainingServer.js"
import { ExitCode } from "./lifecycle/ProcessExit.js"
import { Shutdown } from "./lifecycle/Shutdown.js"
import { closeWithinBudget, cutAtDeadline, exitCodeOf } from "./lifecycle/ShutdownRunner.js"
import { label, ShutdownReason } from "./lifecycle/ShutdownReason.js"
import * as ProcessFaults from "./lifecycle/ProcessFaults.js"
import * as Signals from "./lifecycle/Signals.js"
import * as ProcessSampler from "./observability/ProcessSampler.js"
import * as Tracing from "./observability/Tracing.js"
// Optional features: each is one folder, one import here and the lines naming it below (see README, "Make it yours").
import * as JobsFeature from "./jobs/JobsFeature.js"
import * as UpstreamFeature from "./upstream/UpstreamFeature.js"
import * as WebSocketFeature from "./websocket/WebSocketFeature.js"

/**
 * Every setting, the core's and each feature's, read in one Config.all before anything starts, so
 * that one log line names every bad variable (main.ts). A feature's line goes with the feature;
 * each feature's layer reads its own part again (from the same environment: it cannot fail then).
 */
export const config = Config.all({
  core: coreConfig,
  jobs: JobsFeature.config,
  upstream: UpstreamFeature.config,
  websocket: WebSocketFeature.config
})

/** The whole public API: the compiler checks the composition, HttpApiClient.make(Api) is its
 * typed client, and its document (/openapi.json, /docs) is made from it. One `.add` per group. */
export class Api extends BaseApi
  .add(CoreApi.Health)
  .add(CoreApi.Work)
  .add(JobsFeature.Group)
  .add(UpstreamFeature.Group)
{}

/** Api's handlers: one layer per group (each needs its feature's services), and GET /ws. */
export const ApiLive = HttpApiBuilder.api(Api).pipe(
  Layer.provide(CoreApi.handlers),
  Layer.provide(JobsFeature.handlers),
  Layer.provide(UpstreamFeature.handlers),
  Layer.provide(WebSocketFeature.route)
)

/** A listener's address, failure (arm (a) of the race) and stats, beside its HttpServer. */
export class PublicListener extends Context.Tag("app/PublicListener")<PublicListener, DrainingServer.Listener>() {}
export class AdminListener extends Context.Tag("app/AdminListener")<AdminListener, DrainingServer.Listener>() {}

export const AdminListenerLive = Layer.unwrapEffect(Effect.gen(function*() {
  const config = yield* AppConfig
  const app = yield* AdminApp.make(AppConfig.reveal(config.adminToken))
  return HttpServer.serve(app).pipe(Layer.provideMerge(DrainingServer.layerAs(AdminListener, {
    name: "admin",
    host: config.adminHost,
    port: config.adminPort,
    drainDelayMs: 0,
    requestTimeoutMs: config.requestTimeoutMs
  })))
}))

/** The public listener serving `api` (ApiLive; tests serve less); whoever holds upgraded sockets
 * (GoingAway: the WebSocket hub) is told to go away when it closes. Built after the features: the
 * handlers take their services from them. */
export const makePublicListener = <EH, RH>(
  api: Layer.Layer<HttpApi.Api, EH, RH>,
  options: Omit<DrainingServer.Options, "name" | "goAway">
) =>
  Layer.unwrapEffect(Effect.map(Effect.flatMap(GoingAway.GoingAway, (goingAway) => goingAway.combined), (goAway) =>
    PublicHttpApp.serve(api).pipe(
      Layer.provideMerge(DrainingServer.layerAs(PublicListener, { name: "public", ...options, goAway }))
    )))

export const PublicListenerLive = Layer.unwrapEffect(Effect.map(AppConfig, (config) =>
  makePublicListener(ApiLive, {
    host: config.host,
    port: config.port,
    drainDelayMs: config.drainDelayMs,
    requestTimeoutMs: config.requestTimeoutMs
  })))

/** Test-only (DEBUG_HANG_ON_SHUTDOWN): a finalizer that never ends, released after the servers. */
const DebugHangLive = Layer.scopedDiscard(Effect.gen(function*() {
  const config = yield* AppConfig
  if (!config.debugHangOnShutdown) return
  yield* Effect.logWarning("DEBUG_HANG_ON_SHUTDOWN is set: shutdown will hang until forced")
  yield* Effect.addFinalizer(() => Effect.zipRight(Effect.logWarning("debug finalizer hanging"), Effect.never))
}))

/** Everything acquired at startup, in order. Each provideMerge builds its argument first. */
export const ServicesLive = PublicListenerLive.pipe(
  // Released in reverse: the public listener drains (WebSocket sessions told to go away), then each
  // feature in reverse (the hub; the upstream client; the pool stops, then the store closes).
  Layer.provideMerge(WebSocketFeature.layer),
  Layer.provideMerge(Layer.provide(UpstreamFeature.layer, UpstreamFeature.HttpClientLive)),
  Layer.provideMerge(JobsFeature.layer),
  Layer.provideMerge(AdminListenerLive),
  Layer.provideMerge(DebugHangLive),
  Layer.provideMerge(ProcessSampler.layer),
  Layer.provideMerge(Layer.mergeAll(Signals.layer, ProcessFaults.layer, ReadinessChecks.layer, GoingAway.layer)),
  // First: every fiber built after it (the servers' request runtimes too) makes its spans with it.
  Layer.provideMerge(Tracing.layer)
)

/** What the main race needs from the services; ServicesLive provides more (a layer that provides
 * more is a layer of these). */
export type Raced = AdminListener | PublicListener | Signals.Signals | ProcessFaults.ProcessFaults

/** The main race; returns the process exit code. The root scope is released whatever ends this:
 * within the budget after the race, and, if it is interrupted or a layer dies while starting,
 * by the release of acquireUseRelease (closing a closed scope does nothing). */
export const run = <E, R>(services: Layer.Layer<Raced, E, R>) =>
  Effect.acquireUseRelease(Scope.make(), (scope) => race(services, scope), (scope, exit) => Scope.close(scope, exit))

const race = <E, R>(services: Layer.Layer<Raced, E, R>, scope: Scope.CloseableScope) =>
  Effect.gen(function*() {
    const shutdown = yield* Shutdown
    const started = yield* Effect.either(Layer.buildWithScope(services, scope))
    if (Either.isLeft(started)) {
      yield* shutdown.trigger(ShutdownReason.Fatal({ component: "startup", cause: Cause.fail(started.left) }))
      yield* Effect.logError("startup failed", Cause.fail(started.left))
      yield* closeWithinBudget(scope)
      return ExitCode.Failure
    }
    const context = started.right
    const admin = Context.get(context, AdminListener)
    const publicListener = Context.get(context, PublicListener)
    yield* Effect.logInfo("listening").pipe(Effect.annotateLogs({
      host: publicListener.host,
      port: publicListener.port,
      adminHost: admin.host,
      adminPort: admin.port
    }))

    // Effect.raceAll ends at the first *success*: each arm turns its own failure into a reason.
    const fatal = <E>(component: string, failure: Effect.Effect<never, E>) =>
      Effect.catchAllCause(failure, (cause) => Effect.succeed(ShutdownReason.Fatal({ component, cause })))
    const faulted = Effect.flatMap(Context.get(context, ProcessFaults.ProcessFaults).fault, Effect.failCause)
    const signalled = Effect.map(Context.get(context, Signals.Signals).received, (signal) => ShutdownReason.Signal({ signal }))
    // Arms (a) and (b) complete the latch; (c) is the latch. Whoever won, the latch has the reason.
    yield* Effect.raceAll([
      ...[fatal("admin server", admin.failure), fatal("public server", publicListener.failure), fatal("process", faulted)]
        .map((arm) => Effect.flatMap(arm, shutdown.trigger)),
      Effect.flatMap(signalled, shutdown.trigger),
      shutdown.await
    ])
    const reason = yield* shutdown.await

    const outcome = yield* closeWithinBudget(scope)
    const forced = yield* shutdown.forced
    const code = exitCodeOf(outcome, reason._tag === "Fatal", forced)
    // Both facts, whichever decided the code: a fatal exit may also have had work cut at the deadline.
    const cut = cutAtDeadline(outcome, forced) ? { cutAtDeadline: true, forced } : { cutAtDeadline: false }
    yield* Effect.logInfo("shutdown complete").pipe(
      Effect.annotateLogs({ reason: label(reason), exitCode: code, elapsedMs: yield* shutdown.elapsed, ...cut })
    )
    return code
  })
