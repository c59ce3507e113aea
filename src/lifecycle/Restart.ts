/**
 * Runs a background component under a restart policy (Erlang/OTP's intensity and period), as
 * `Effect.retry` with a Schedule. (Named so: Effect's own `Supervisor` observes fibers, it does
 * not restart them.)
 * Owns: the fiber running the component, forked through the FiberRegistry into the caller's
 *   scope, and the schedule's state (the failures inside the window).
 * Does not own: the shutdown. Past its restart intensity it escalates: it triggers shutdown with
 *   reason Fatal naming the component, and stops.
 * Released when: the caller's scope closes; interruption stops the component without a restart.
 */
import { Cause, Duration, Effect, Schedule, ScheduleDecision, ScheduleInterval } from "effect"
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

/** Delay before restart number `attempt` (1-based): initial * 2^(attempt - 1), capped; what
 * `backoffSchedule` waits. */
export const backoff = (policy: RestartPolicy, attempt: number): Duration.Duration =>
  Duration.min(Duration.times(Duration.decode(policy.initialDelay), 2 ** (attempt - 1)), Duration.decode(policy.maxDelay))

/** The exponential backoff, capped: `union` recurs at the shorter of the two delays. */
export const backoffSchedule = (policy: RestartPolicy) =>
  Schedule.union(Schedule.exponential(policy.initialDelay), Schedule.spaced(policy.maxDelay))

/**
 * Erlang's intensity and period: outputs how many failures (this one included) fall inside the
 * window, and is done once that is more than maxRestarts. Effect has no sliding-window counter,
 * so this one keeps the failure times as its state.
 */
export const intensity = (policy: RestartPolicy): Schedule.Schedule<number> => {
  const windowMs = Duration.toMillis(policy.window)
  return Schedule.makeWithState<ReadonlyArray<number>, unknown, number>([], (now, _, recent) => {
    const failures = [...recent.filter((at) => at > now - windowMs), now]
    const decision = failures.length > policy.maxRestarts
      ? ScheduleDecision.done
      : ScheduleDecision.continueWith(ScheduleInterval.after(now))
    return Effect.succeed([failures, failures.length, decision] as const)
  })
}

/**
 * The restart policy as one Schedule over the component's failures (its Cause): the backoff,
 * within the intensity; a failure alone in its window starts the backoff over; a component that
 * interrupted itself stopped (no restart); each restart is logged with its cause and delay.
 */
export const restartSchedule = <E>(name: string, policy: RestartPolicy) =>
  backoffSchedule(policy).pipe(
    Schedule.intersect(intensity(policy)),
    Schedule.resetWhen(([, failures]) => failures === 1),
    Schedule.map(([, failures]) => failures),
    Schedule.whileInput((cause: Cause.Cause<E>) => !Cause.isInterruptedOnly(cause)),
    Schedule.intersect(Schedule.identity<Cause.Cause<E>>()),
    // Called only for a recurrence (never for the failure that ends the schedule): the log line of a restart.
    Schedule.modifyDelayEffect(([failures, cause], delay) =>
      Effect.logWarning("component failed: restarting", cause).pipe(
        Effect.annotateLogs({ component: name, attempt: failures, delayMs: Duration.toMillis(delay) }),
        Effect.as(delay)
      )
    )
  )

/** Forks `component` (listed as `name`/`owner`) into the caller's scope, restarted under `policy`.
 * Failures and defects both count; past the intensity it escalates to a Fatal shutdown. */
export const restartOnFailure = Effect.fn("Restart.restartOnFailure")(
  function*<E, R>(name: string, owner: string, component: Effect.Effect<void, E, R>, policy: RestartPolicy = defaultPolicy) {
    const shutdown = yield* Shutdown
    const registry = yield* FiberRegistry
    const escalate = (cause: Cause.Cause<E>) =>
      Effect.logError("component failed too often: escalating", cause).pipe(
        Effect.annotateLogs({ component: name, failures: policy.maxRestarts + 1, windowMs: Duration.toMillis(policy.window) }),
        Effect.zipRight(shutdown.trigger(ShutdownReason.Fatal({ component: name, cause })))
      )
    const run = Effect.sandbox(component).pipe(
      Effect.retry(restartSchedule<E>(name, policy)),
      Effect.matchEffect({
        onSuccess: () => Effect.logInfo("component stopped").pipe(Effect.annotateLogs({ component: name })),
        // Interrupted from inside: a stop, not a crash. (Interruption from the owner never gets here.)
        onFailure: (cause) => Cause.isInterruptedOnly(cause) ? Effect.void : escalate(cause)
      })
    )
    return yield* registry.fork(name, owner)(run)
  }
)
