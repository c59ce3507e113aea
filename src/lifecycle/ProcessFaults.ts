/**
 * Uncaught exceptions and unhandled rejections.
 * Owns: the process's `uncaughtException` and `unhandledRejection` listeners (guarded: see
 *   listenScoped).
 * Does not own: the shutdown. The first fault completes `fault` (an arm of the main race, so the
 *   service drains within its budget and exits 1); later faults are logged, up to
 *   LATER_FAULT_LINES, then only counted: a fault raised by logging a fault (a broken stream
 *   under a logger that throws) cannot turn into an endless loop of lines and faults.
 * Released when: its layer's scope closes (the count of unlogged faults is logged then); Node's
 *   default (crash at once) applies again.
 */
import { Cause, Context, Deferred, Effect, FiberSet, Layer } from "effect"
import { listenScoped } from "./listenScoped.js"
import * as ScopeFinalizer from "./ScopeFinalizer.js"

/** Faults after the first that are still logged, each with its cause. */
export const LATER_FAULT_LINES = 10

export class ProcessFaults extends Context.Tag("app/ProcessFaults")<ProcessFaults, {
  /** The cause of the first uncaught exception or unhandled rejection. */
  readonly fault: Effect.Effect<Cause.Cause<never>>
}>() {}

export const make = (emitter: NodeJS.EventEmitter = process) =>
  Effect.gen(function*() {
    const first = yield* Deferred.make<Cause.Cause<never>>()
    let faults = 0
    yield* ScopeFinalizer.add(() =>
      faults > 1 + LATER_FAULT_LINES
        ? Effect.logWarning("faults not logged").pipe(Effect.annotateLogs({ faults, notLogged: faults - 1 - LATER_FAULT_LINES }))
        : Effect.void
    )
    // owner: this layer's scope; the fault callbacks log in it.
    const run = yield* FiberSet.makeRuntime<never>()
    const onFault = (kind: string) => (error: unknown) => {
      faults += 1
      if (faults > 1 + LATER_FAULT_LINES) return
      const cause = Cause.die(error)
      const last = faults === 1 + LATER_FAULT_LINES ? { furtherFaultsCountedOnly: true } : {}
      run(Effect.zipRight(
        Effect.logError(kind, cause).pipe(Effect.annotateLogs({ fault: kind, ...last })),
        Deferred.succeed(first, cause)
      ))
    }
    yield* listenScoped(emitter, {
      uncaughtException: onFault("uncaught exception"),
      unhandledRejection: onFault("unhandled rejection")
    })
    return ProcessFaults.of({ fault: Deferred.await(first) })
  })

export const layer = Layer.scoped(ProcessFaults, make())
