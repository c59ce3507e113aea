/**
 * Runs a background component under a restart policy (Erlang/OTP's intensity and period).
 * Owns: the fiber running the component, forked through the FiberRegistry into the caller's
 *   scope, and its restart bookkeeping.
 * Does not own: the shutdown. Past its restart intensity it escalates: it triggers shutdown with
 *   reason Fatal naming the component, and stops.
 * Released when: the caller's scope closes; interruption stops the component without a restart.
 */
import { Clock, Duration, Effect, Exit, Cause, Schedule } from "effect"
import { FiberRegistry } from "./FiberRegistry.js"
import { Shutdown } from "./Shutdown.js"
import { ShutdownReason } from "./ShutdownReason.js"

export interface RestartPolicy {
  /** At most this many restarts within `window`; one more failure escalates. */
  readonly maxRestarts: number
  readonly window: Duration.DurationInput
  /** Delay before the first restart; doubles for each failure still in the window, up to maxDelay. */
  readonly initialDelay: Duration.DurationInput
  readonly maxDelay: Duration.DurationInput
}

export const defaultPolicy: RestartPolicy = {
  maxRestarts: 5,
  window: "1 minute",
  initialDelay: "100 millis",
  maxDelay: "10 seconds"
}

/** Delay before restart number `attempt` (1-based): initial * 2^(attempt - 1), capped. */
export const backoff = (policy: RestartPolicy, attempt: number): Duration.Duration =>
  Duration.min(Duration.times(Duration.decode(policy.initialDelay), 2 ** (attempt - 1)), Duration.decode(policy.maxDelay))

export const supervise = <E, R>(
  name: string,
  owner: string,
  component: Effect.Effect<void, E, R>,
  policy: RestartPolicy = defaultPolicy
) =>
  Effect.gen(function*() {
    const shutdown = yield* Shutdown
    const registry = yield* FiberRegistry
    const windowMs = Duration.toMillis(policy.window)
    const failures: Array<number> = []

    const run: Effect.Effect<void, never, R> = Effect.gen(function*() {
      while (true) {
        const exit = yield* Effect.exit(component)
        if (Exit.isSuccess(exit)) return yield* Effect.logInfo("component stopped").pipe(Effect.annotateLogs({ component: name }))
        // Interrupted from inside: a stop, not a crash. (Interruption from the owner never gets here.)
        if (Cause.isInterruptedOnly(exit.cause)) return
        const now = yield* Clock.currentTimeMillis
        failures.push(now)
        while (failures.length > 0 && failures[0]! <= now - windowMs) failures.shift()
        if (failures.length > policy.maxRestarts) {
          yield* Effect.logError("component failed too often: escalating", exit.cause).pipe(
            Effect.annotateLogs({ component: name, failures: failures.length, windowMs })
          )
          yield* shutdown.trigger(ShutdownReason.Fatal({ component: name, cause: exit.cause }))
          return
        }
        const delay = backoff(policy, failures.length)
        yield* Effect.logWarning("component failed: restarting", exit.cause).pipe(
          Effect.annotateLogs({ component: name, attempt: failures.length, delayMs: Duration.toMillis(delay) })
        )
        yield* Effect.sleep(delay)
      }
    })
    return yield* registry.fork(name, owner)(run)
  })

/** A component that repeats `tick` every `every`, for periodic work (samplers, compaction). */
export const periodic = <E, R>(tick: Effect.Effect<void, E, R>, every: Duration.DurationInput) =>
  Effect.repeat(tick, Schedule.spaced(every)).pipe(Effect.asVoid)
