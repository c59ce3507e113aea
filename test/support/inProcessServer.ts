// A real draining server on 127.0.0.1:0 running a tiny probe app, for drain tests. The test owns the
// server's Scope (closing it is the drain), the Shutdown latch and the FiberRegistry, and reads
// the JSON log lines as they are written (so it can wait on a line instead of sleeping).
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Deferred, Duration, Effect, Exit, Fiber, Scope } from "effect"
import type * as DrainingServer from "../../src/http/server/DrainingServer.js"
import * as FiberRegistry from "../../src/lifecycle/FiberRegistry.js"
import * as Shutdown from "../../src/lifecycle/Shutdown.js"
import { ShutdownReason } from "../../src/lifecycle/ShutdownReason.js"
import { captureLogs, type LogLine } from "./captureLogs.js"
import { RawConnection, type RawResponse } from "./RawConnection.js"
import { servedListener } from "./servedListener.js"

export type { LogLine }

export interface Probes {
  /** Completed once a /hold handler runs: a fiber interrupted before it starts runs no finalizer. */
  readonly started: Deferred.Deferred<void>
  /** Completing it lets /hold answer 200. */
  readonly release: Deferred.Deferred<void>
  /** Completed by the /hold handler's onInterrupt. */
  readonly interrupted: Deferred.Deferred<void>
}

export interface ServerHarness {
  readonly server: DrainingServer.Listener
  readonly shutdown: Shutdown.Shutdown["Type"]
  readonly registry: FiberRegistry.FiberRegistry["Type"]
  readonly probes: Probes
  readonly lines: ReadonlyArray<LogLine>
  readonly waitForLine: (predicate: (line: LogLine) => boolean, timeoutMs?: number) => Effect.Effect<LogLine, Error>
  /** SIGTERM, then closes the server's scope (the drain) in a fiber of its own, so the test can act
   * meanwhile. The effect it returns waits for the close (at most budget + 5 s) and gives its ms. */
  readonly beginShutdown: Effect.Effect<Effect.Effect<number, Error>>
  readonly connect: Effect.Effect<RawConnection>
}

/** Fails with a message naming what did not happen in time. */
export const within = (ms: number, what: string) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(self, { duration: ms, onTimeout: () => new Error(`timed out after ${ms} ms waiting for ${what}`) })

export const nextResponse = (connection: RawConnection, timeoutMs?: number): Effect.Effect<RawResponse> =>
  Effect.promise(() => connection.nextResponse(timeoutMs))

export const socketClosed = (connection: RawConnection, timeoutMs: number) =>
  Effect.promise(() => connection.closed).pipe(within(timeoutMs, "the socket to close"))

const probeApp = (probes: Probes) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    switch (request.url) {
      case "/ok":
        return HttpServerResponse.unsafeJson({ ok: true })
      case "/hold":
        yield* Deferred.succeed(probes.started, undefined)
        yield* Deferred.await(probes.release).pipe(Effect.onInterrupt(() => Deferred.succeed(probes.interrupted, undefined)))
        return HttpServerResponse.unsafeJson({ held: true })
      case "/log":
        yield* Effect.logInfo("inside the request")
        return HttpServerResponse.unsafeJson({ logged: true })
      case "/boom":
        return yield* Effect.die(new Error("boom"))
      default:
        return HttpServerResponse.empty({ status: 404 })
    }
  })

export interface HarnessOptions {
  readonly budgetMs: number
  readonly drainDelayMs?: number
  readonly requestTimeoutMs?: number
}

/** Runs `body` against a started server. If `body` fails first, the server is still drained. */
export const withServer = <A, E>(
  options: HarnessOptions,
  body: (harness: ServerHarness) => Effect.Effect<A, E, Scope.Scope>
): Effect.Effect<A, E | DrainingServer.ServeError, Scope.Scope> => {
  const logs = captureLogs()
  return Effect.gen(function*() {
    const shutdown = yield* Shutdown.make(options.budgetMs)
    const registry = yield* FiberRegistry.make
    const probes: Probes = {
      started: yield* Deferred.make<void>(),
      release: yield* Deferred.make<void>(),
      interrupted: yield* Deferred.make<void>()
    }
    const scope = yield* Scope.make()
    // A daemon, so a drain that never ends fails the test (the wait below times out) instead of
    // hanging it: a release runs uninterruptibly, and a parent waits for its children.
    const close = Effect.map(Effect.forkDaemon(Effect.timed(Scope.close(scope, Exit.void))), (closing) =>
      Fiber.join(closing).pipe(
        Effect.map(([took]) => Duration.toMillis(took)),
        within(options.budgetMs + 5_000, "the server scope to close")
      ))
    // Safety net for a failed test: release the held handler and drain (a no-op once closed).
    yield* Effect.addFinalizer(() =>
      Deferred.succeed(probes.release, undefined).pipe(Effect.zipRight(Effect.flatten(close)), Effect.ignore)
    )
    const server = yield* Scope.extend(
      servedListener({
        name: "public",
        host: "127.0.0.1",
        port: 0,
        drainDelayMs: options.drainDelayMs ?? 0,
        requestTimeoutMs: options.requestTimeoutMs ?? 30_000
      }, probeApp(probes)),
      scope
    ).pipe(
      Effect.provideService(Shutdown.Shutdown, shutdown),
      Effect.provideService(FiberRegistry.FiberRegistry, registry)
    )
    const beginShutdown = Effect.zipRight(shutdown.trigger(ShutdownReason.Signal({ signal: "SIGTERM" })), close)
    const connect = Effect.promise(() => RawConnection.open(server.port))
    return yield* body({ server, shutdown, registry, probes, lines: logs.lines, waitForLine: logs.waitForLine, beginShutdown, connect })
  }).pipe(Effect.provide(logs.layer))
}
