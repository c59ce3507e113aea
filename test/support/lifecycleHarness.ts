// In-process harness for App.run: recorder layers around fake servers and a fake signal source,
// so tests can trigger each kind of shutdown and read back the order of acquire/release events.
import { HttpServer } from "@effect/platform"
import { Deferred, Effect, Layer, Ref } from "effect"
import { EventEmitter } from "node:events"
import { AdminListener, PublicListener } from "../../src/App.js"
import * as AppConfig from "../../src/config/AppConfig.js"
import * as DrainingServer from "../../src/http/server/DrainingServer.js"
import { ServeError } from "../../src/http/server/ServeError.js"
import * as FiberRegistry from "../../src/lifecycle/FiberRegistry.js"
import * as ProcessFaults from "../../src/lifecycle/ProcessFaults.js"
import { ProcessExit } from "../../src/lifecycle/ProcessExit.js"
import * as Shutdown from "../../src/lifecycle/Shutdown.js"
import * as Signals from "../../src/lifecycle/Signals.js"
import { captureLogs } from "./captureLogs.js"
import * as TestConfig from "./testConfig.js"

export const makeHarness = (options: { readonly budgetMs?: number; readonly hangingRelease?: boolean } = {}) =>
  Effect.gen(function*() {
    const events = yield* Ref.make<ReadonlyArray<string>>([])
    const started = yield* Deferred.make<void>()
    const serverFailure = yield* Deferred.make<never, ServeError>()
    const exitCodes: Array<number> = []
    const emitter = new EventEmitter()
    const logs = captureLogs()

    const recorder = (name: string) =>
      Layer.scopedDiscard(Effect.acquireRelease(
        Ref.update(events, (all) => [...all, `acquire ${name}`]),
        () => Ref.update(events, (all) => [...all, `release ${name}`])
      ))
    // Only the public server can be made to fail: one failing arm must be enough to end the race.
    const fakeServer = (name: string): DrainingServer.Listener => ({
      // Serves nothing: the harness races the listeners' failures, it sends no request.
      server: HttpServer.make({ serve: () => Effect.void, address: { _tag: "TcpAddress", hostname: "127.0.0.1", port: 1 } }),
      name,
      host: "127.0.0.1",
      port: 1,
      failure: name === "public" ? Deferred.await(serverFailure) : Effect.never,
      stats: () => ({ sockets: 0, inFlight: 0, requestFibers: 0 })
    })
    const hanging = Layer.scopedDiscard(Effect.addFinalizer(() =>
      options.hangingRelease === true ? Effect.never : Effect.void
    ))
    const ready = Layer.effectDiscard(Deferred.succeed(started, undefined))

    const services = ready.pipe(
      Layer.provideMerge(recorder("C")),
      Layer.provideMerge(Layer.succeed(PublicListener, fakeServer("public"))),
      Layer.provideMerge(Layer.succeed(AdminListener, fakeServer("admin"))),
      Layer.provideMerge(recorder("B")),
      Layer.provideMerge(hanging),
      Layer.provideMerge(Layer.scoped(Signals.Signals, Signals.make(emitter))),
      Layer.provideMerge(Layer.scoped(ProcessFaults.ProcessFaults, ProcessFaults.make(emitter))),
      Layer.provideMerge(recorder("A"))
    )
    const infrastructure = Layer.mergeAll(Shutdown.layer, FiberRegistry.layer).pipe(
      Layer.provideMerge(Layer.mergeAll(
        TestConfig.withEnv(AppConfig.layer, { SHUTDOWN_TIMEOUT_MS: String(options.budgetMs ?? 1_000) }),
        Layer.succeed(ProcessExit, { now: (code) => Effect.sync(() => void exitCodes.push(code)) })
      )),
      Layer.provideMerge(logs.layer)
    )
    return { events, started, serverFailure, exitCodes, emitter, logs, services, infrastructure }
  })
