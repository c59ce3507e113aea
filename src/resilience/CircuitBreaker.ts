/**
 * A circuit breaker: after `failures` consecutive failures it refuses calls at once with
 * CircuitOpen for `resetMs`, then lets one trial call through to decide whether to close again.
 * Owns: its state and the `circuit_breaker_state{name}` gauge it writes.
 * Does not own: the effects it protects; it never interrupts, retries or outlives them.
 * Released when: nothing to release; it holds no fiber, socket or timer.
 * Every call let through is settled exactly once, by its exit, even when it is interrupted.
 */
import { Cause, Clock, Data, Effect, Exit, Metric, MetricKey } from "effect"

export class CircuitOpen extends Data.TaggedError("CircuitOpen")<{ readonly name: string; readonly retryAfterMs: number }> {}

export type BreakerState = "closed" | "open" | "half-open"

export interface CircuitBreakerOptions {
  readonly name: string
  /** consecutive failures that open the breaker */
  readonly failures: number
  /** how long it stays open before letting one trial through */
  readonly resetMs: number
  /**
   * An interrupted call counts as a failure (default: it counts as nothing). For a dependency
   * that can hang, the caller giving up (its request timeout, its client gone) is often the
   * only sign of the failure: without this, an upstream that never answers never opens the
   * breaker, and every caller keeps waiting on it.
   */
  readonly countInterruption?: boolean
}

export interface CircuitBreaker {
  readonly name: string
  /** Runs `self` through the breaker. While open, fails at once with CircuitOpen (retryAfterMs = time left until half-open, at least 1). */
  readonly protect: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | CircuitOpen, R>
  readonly state: Effect.Effect<BreakerState>
}

/** The gauge of one breaker: 0 closed, 1 open, 2 half-open. */
export const stateGauge = (name: string) =>
  Metric.fromMetricKey(MetricKey.tagged(
    MetricKey.gauge("circuit_breaker_state", { description: "Circuit breaker state: 0 closed, 1 open, 2 half-open." }),
    "name",
    name
  ))

type State =
  | { readonly _tag: "closed"; readonly failures: number }
  | { readonly _tag: "open"; readonly since: number }
  | { readonly _tag: "half-open"; readonly trialRunning: boolean }

/** How a call was let through: as an ordinary call while closed, or as the half-open trial. */
type Ticket = "closed" | "trial"

const gaugeValue: Record<BreakerState, number> = { closed: 0, open: 1, "half-open": 2 }
const closed: State = { _tag: "closed", failures: 0 }

export const make = (options: CircuitBreakerOptions): Effect.Effect<CircuitBreaker> =>
  Effect.sync(() => {
    const gauge = stateGauge(options.name)
    // Plain state, read and written only inside Effect.sync: each check-and-transition, with its
    // gauge write, is one synchronous step that no other fiber can interleave with.
    let state: State = closed
    const enter = (next: State): void => {
      state = next
      gauge.unsafeUpdate(gaugeValue[next._tag], [])
    }
    enter(closed)

    const admit = (now: number): Ticket | CircuitOpen => {
      if (state._tag === "closed") return "closed"
      const left = state._tag === "open" ? state.since + options.resetMs - now : state.trialRunning ? 1 : 0
      if (left > 0) return new CircuitOpen({ name: options.name, retryAfterMs: Math.max(1, Math.ceil(left)) })
      enter({ _tag: "half-open", trialRunning: true })
      return "trial"
    }

    const settle = (ticket: Ticket, exit: Exit.Exit<unknown, unknown>, now: number): void => {
      // An interruption counted as nothing leaves the count (or the half-open state) as it was.
      const interrupted = !options.countInterruption && Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)
      if (ticket === "trial") {
        if (interrupted) enter({ _tag: "half-open", trialRunning: false })
        else enter(Exit.isSuccess(exit) ? closed : { _tag: "open", since: now })
      } else if (!interrupted && state._tag === "closed") {
        // A call let in while closed counts only if the breaker is still closed when it ends.
        const failures = Exit.isSuccess(exit) ? 0 : state.failures + 1
        enter(failures > 0 && failures >= options.failures ? { _tag: "open", since: now } : { _tag: "closed", failures })
      }
    }

    const protect = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | CircuitOpen, R> =>
      // Uninterruptible from admission until `onExit` is installed, so a trial always settles.
      Effect.uninterruptibleMask((restore) =>
        Clock.currentTimeMillis.pipe(
          Effect.flatMap((now) => Effect.sync(() => admit(now))),
          Effect.flatMap((ticket): Effect.Effect<A, E | CircuitOpen, R> =>
            ticket instanceof CircuitOpen
              ? Effect.fail(ticket)
              : Effect.onExit(restore(self), (exit) =>
                Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => settle(ticket, exit, now))))
          )
        )
      )

    return { name: options.name, protect, state: Effect.sync(() => state._tag) }
  })
