// Composition root: which layers exist, in which order, and the main race.
//
// Layers are built into one root scope in acquisition order (signals, sampler, admin listener,
// the optional features, public listener), so the scope releases them in reverse: the public
// listener drains first, then each feature (the job pool stops, then its store closes); the
// admin listener stays up until the end and signal handlers go last. Features plug their routes
// into the public server through PublicRoutes, so deleting one is deleting its folder, its tests
// and its lines here (scripts/check-removable.mjs proves it in CI). The main program then races
//   (a) the servers or the process failing, (b) the first signal, (c) the shutdown latch (admin),
// and whichever finishes first is the shutdown reason; the others are interrupted.
import { Cause, Config, Context, Effect, Either, Layer, Scope } from "effect"
import { AppConfig, config as coreConfig } from "./config/AppConfig.js"
import * as AdminApp from "./http/admin/AdminApp.js"
import * as OwnedServer from "./http/OwnedServer.js"
import * as PublicApp from "./http/public/PublicApp.js"
import * as PublicRoutes from "./http/public/PublicRoutes.js"
import { ExitCode } from "./lifecycle/ProcessExit.js"
import { Shutdown } from "./lifecycle/Shutdown.js"
import { closeWithinBudget, cutAtDeadline, exitCodeOf } from "./lifecycle/ShutdownRunner.js"
import { label, ShutdownReason } from "./lifecycle/ShutdownReason.js"
import * as ProcessFaults from "./lifecycle/ProcessFaults.js"
import * as Signals from "./lifecycle/Signals.js"
import * as ProcessSampler from "./observability/ProcessSampler.js"
// Optional features: each is one folder, one import here and one layer below (see README, "Make it yours").
import * as JobsFeature from "./jobs/JobsFeature.js"
import * as UpstreamFeature from "./upstream/UpstreamFeature.js"
import * as WebSocketFeature from "./websocket/WebSocketFeature.js"

/**
 * Every setting, the core's and each feature's, read in one Config.all before anything starts, so
 * one error names every bad variable (main.ts logs it as one line, and provides the core's from
 * it). Each feature's layer then reads its own part again from the same environment (it cannot fail
 * by then), so a feature needs nothing from here; deleted with its lines, it takes its settings.
 */
export const config = Config.all({
  core: coreConfig,
  jobs: JobsFeature.config,
  upstream: UpstreamFeature.config,
  websocket: WebSocketFeature.config
})

export class AdminServer extends Context.Tag("app/AdminServer")<AdminServer, OwnedServer.RunningServer>() {}
export class PublicServer extends Context.Tag("app/PublicServer")<PublicServer, OwnedServer.RunningServer>() {}

export const AdminServerLive = Layer.scoped(
  AdminServer,
  Effect.gen(function*() {
    const config = yield* AppConfig
    const app = yield* AdminApp.make(AppConfig.reveal(config.adminToken))
    return yield* OwnedServer.make({
      name: "admin",
      host: config.adminHost,
      port: config.adminPort,
      drainDelayMs: 0,
      requestTimeoutMs: config.requestTimeoutMs
    }, app)
  })
)

/** The public server with the core routes and every route and upgrade handler features added. */
export const makePublicServer = (options: Omit<OwnedServer.ServerOptions, "name" | "upgrades">) =>
  Effect.gen(function*() {
    // Built after the features, so every one of them has added its routes by now.
    const { groups, readiness, upgrades } = yield* Effect.flatMap(PublicRoutes.PublicRoutes, (routes) => routes.seal)
    const app = yield* PublicApp.make(groups, readiness)
    return yield* OwnedServer.make({ name: "public", ...options, ...(upgrades === undefined ? {} : { upgrades }) }, app)
  })

export const PublicServerLive = Layer.scoped(
  PublicServer,
  Effect.flatMap(AppConfig, (config) =>
    makePublicServer({
      host: config.host,
      port: config.port,
      drainDelayMs: config.drainDelayMs,
      requestTimeoutMs: config.requestTimeoutMs
    }))
)

/** Test-only (DEBUG_HANG_ON_SHUTDOWN): a finalizer that never ends, released after the servers. */
const DebugHangLive = Layer.scopedDiscard(Effect.gen(function*() {
  const config = yield* AppConfig
  if (!config.debugHangOnShutdown) return
  yield* Effect.logWarning("DEBUG_HANG_ON_SHUTDOWN is set: shutdown will hang until forced")
  yield* Effect.addFinalizer(() => Effect.zipRight(Effect.logWarning("debug finalizer hanging"), Effect.never))
}))

/** Everything acquired at startup, in order. Each provideMerge builds its argument first. */
export const ServicesLive = PublicServerLive.pipe(
  // Released in reverse: the public routes drain (WebSocket sessions told to go away), then each
  // feature in reverse (the hub; the upstream client; the pool stops, then the store closes).
  Layer.provideMerge(WebSocketFeature.layer),
  Layer.provideMerge(Layer.provide(UpstreamFeature.layer, UpstreamFeature.HttpClientLive)),
  Layer.provideMerge(JobsFeature.layer),
  Layer.provideMerge(AdminServerLive),
  Layer.provideMerge(DebugHangLive),
  Layer.provideMerge(ProcessSampler.layer),
  Layer.provideMerge(Layer.mergeAll(Signals.layer, ProcessFaults.layer, PublicRoutes.layer))
)

/** What the main race needs from the services; ServicesLive provides more. */
export type Raced = AdminServer | PublicServer | Signals.Signals | ProcessFaults.ProcessFaults

/** The main race; returns the process exit code. */
export const run = <ROut extends Raced, E, R>(services: Layer.Layer<ROut, E, R>) =>
  Effect.gen(function*() {
    const shutdown = yield* Shutdown
    const scope = yield* Scope.make()
    const started = yield* Effect.either(Layer.buildWithScope(services, scope))
    if (Either.isLeft(started)) {
      yield* shutdown.trigger(ShutdownReason.Fatal({ component: "startup", cause: Cause.fail(started.left) }))
      yield* Effect.logError("startup failed", Cause.fail(started.left))
      yield* closeWithinBudget(scope)
      return ExitCode.Failure
    }
    // ROut holds at least Raced; Context is invariant in its type, so widen it once, here.
    const context = started.right as unknown as Context.Context<Raced>
    const admin = Context.get(context, AdminServer)
    const publicServer = Context.get(context, PublicServer)
    yield* Effect.logInfo("listening").pipe(Effect.annotateLogs({
      host: publicServer.host,
      port: publicServer.port,
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
      ...[fatal("admin server", admin.failure), fatal("public server", publicServer.failure), fatal("process", faulted)]
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
