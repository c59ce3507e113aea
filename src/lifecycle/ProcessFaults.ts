/**
 * Uncaught exceptions and unhandled rejections.
 * Owns: the process's `uncaughtException` and `unhandledRejection` listeners.
 * Does not own: the shutdown. The first fault completes `fault` (an arm of the main race, so the
 *   service drains within its budget and exits 1); later faults are logged.
 * Released when: its layer's scope closes; Node's default (crash at once) applies again.
 */
import { Cause, Context, Deferred, Effect, FiberSet, Layer } from "effect"
import { listenScoped } from "./listenScoped.js"

export class ProcessFaults extends Context.Tag("app/ProcessFaults")<ProcessFaults, {
  /** The cause of the first uncaught exception or unhandled rejection. */
  readonly fault: Effect.Effect<Cause.Cause<never>>
}>() {}

export const make = (emitter: NodeJS.EventEmitter = process) =>
  Effect.gen(function*() {
    const first = yield* Deferred.make<Cause.Cause<never>>()
    // owner: this layer's scope; the fault callbacks log in it.
    const run = yield* FiberSet.makeRuntime<never>()
    const onFault = (kind: string) => (error: unknown) => {
      const cause = Cause.die(error)
      run(Effect.zipRight(
        Effect.logError(kind, cause).pipe(Effect.annotateLogs({ fault: kind })),
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
