/**
 * SIGTERM and SIGINT.
 * Owns: the process listeners for both signals (guarded: see listenScoped) and the fibers their
 *   callbacks start.
 * Does not own: the shutdown itself. The first signal only completes `received` (one arm of the
 *   main race); a second signal forces the process out at once with 143 (SIGTERM) or 130 (SIGINT)
 *   after logging the owned fibers still running.
 * Released when: its layer's scope closes, last but one (after everything it may have to cut short).
 */
import { Context, Deferred, Effect, FiberSet, Layer } from "effect"
import { FiberRegistry } from "./FiberRegistry.js"
import { listenScoped } from "./listenScoped.js"
import { ExitCode, ProcessExit } from "./ProcessExit.js"
import type { SignalName } from "./ShutdownReason.js"

export class Signals extends Context.Tag("app/Signals")<Signals, {
  /** The first signal received. */
  readonly received: Effect.Effect<SignalName>
}>() {}

const forcedCode = (signal: SignalName) => signal === "SIGINT" ? ExitCode.SecondSigint : ExitCode.SecondSigterm

/** `emitter` is `process` in production; tests pass their own EventEmitter. */
export const make = (emitter: NodeJS.EventEmitter = process) =>
  Effect.gen(function*() {
    const registry = yield* FiberRegistry
    const exit = yield* ProcessExit
    const received = yield* Deferred.make<SignalName>()
    // owner: this layer's scope; signal callbacks start their work in it.
    const run = yield* FiberSet.makeRuntime<never>()
    let count = 0

    const forceOut = (signal: SignalName) =>
      Effect.gen(function*() {
        const running = yield* registry.snapshot
        const code = forcedCode(signal)
        yield* Effect.logError("forced exit: second signal").pipe(
          Effect.annotateLogs({ signal, exitCode: code, running, finalizersSkipped: true })
        )
        yield* exit.now(code)
      })

    const onSignal = (signal: SignalName) => () => {
      count += 1
      run(
        count === 1
          ? Effect.zipRight(Effect.logInfo("signal received").pipe(Effect.annotateLogs({ signal })), Deferred.succeed(received, signal))
          : forceOut(signal)
      )
    }
    yield* listenScoped(emitter, { SIGTERM: onSignal("SIGTERM"), SIGINT: onSignal("SIGINT") })
    return Signals.of({ received: Deferred.await(received) })
  })

export const layer = Layer.scoped(Signals, make())
