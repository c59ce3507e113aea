/**
 * A circuit breaker: after `failures` consecutive failures it refuses calls at once with
 * CircuitOpen for `resetMs`, then lets one trial call through to decide whether to close again.
 * Owns: its state and the `circuit_breaker_state{name}` gauge it writes.
 * Does not own: the effects it protects; it never interrupts, retries or outlives them.
 * Released when: nothing to release; it holds no fiber, socket or timer.
 * Every call let through is settled exactly once, by its exit, even when it is interrupted.
 * Every transition (open, half-open, closed) is logged once, by the call that caused it, with
 * the reason (and, on opening, the failure's cause).
 */
import { Cause, Clock, Effect, Exit, Metric, MetricKey, Schema } from "effect"
import { status } from "../http/public/ApiErrors.js"

/** The breaker refused the call: one class from the breaker to the wire (503 there, `{error,
 * message}` only: `name` and `retryAfterMs` stay in the process, so they are optional to decode). */
export class CircuitOpen extends Schema.TaggedError<CircuitOpen>()("CircuitOpen", {
  message: Schema.String,
  name: Schema.optional(Schema.String),
  retryAfterMs: Schema.optional(Schema.Number)
}, status(503)) {
  static readonly refusing = (name: string, retryAfterMs: number) =>
    new CircuitOpen({ name, retryAfterMs, message: `the ${name} is failing; not calling it for ${Math.ceil(retryAfterMs / 1000)} s` })
}

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

/** A change of BreakerState, with what caused it: logged once, by the call that made it. */
interface Transition {
  readonly from: BreakerState
  readonly to: BreakerState
  readonly reason: string
  readonly annotations: Record<string, unknown>
  /** The failure that opened the breaker (the last of the run, or the failed trial). */
  readonly cause: Cause.Cause<unknown>
}

const gaugeValue: Record<BreakerState, number> = { closed: 0, open: 1, "half-open": 2 }
const closed: State = { _tag: "closed", failures: 0 }

/** One line per transition: opening is a warning (callers are refused from now on), the rest info. */
const logTransition = (name: string) => (transition: Transition | undefined): Effect.Effect<void> => {
  if (transition === undefined) return Effect.void
  const line = transition.to === "open"
    ? Effect.logWarning(`circuit breaker ${transition.to}`, transition.cause)
    : Effect.logInfo(`circuit breaker ${transition.to}`)
  return Effect.annotateLogs(line, {
    breaker: name,
    from: transition.from,
    to: transition.to,
    reason: transition.reason,
    ...transition.annotations
  })
}

export const make = (options: CircuitBreakerOptions): Effect.Effect<CircuitBreaker> =>
  Effect.sync(() => {
    const gauge = stateGauge(options.name)
    // Plain state, read and written only in synchronous code (`admit` and `settle`, called
    // between two yields, and `state`'s Effect.sync): each check-and-transition, with its gauge
    // write, is one step that no other fiber can interleave with. That step returns the
    // transition it made, so exactly one caller logs each one.
    let state: State = closed
    const enter = (
      next: State,
      reason: string,
      annotations: Record<string, unknown> = {},
      cause: Cause.Cause<unknown> = Cause.empty
    ): Transition => {
      const from = state._tag
      state = next
      gauge.unsafeUpdate(gaugeValue[next._tag], [])
      return { from, to: next._tag, reason, annotations, cause }
    }
    // Its series is exported (at 0, closed) from the moment the breaker is made: the upstream
    // feature makes its breaker while its layer is built, so the first scrape has
    // circuit_breaker_state{name="upstream"}. One series per breaker: names are ours, a closed set.
    gauge.unsafeUpdate(gaugeValue.closed, [])
    const log = logTransition(options.name)

    const admit = (now: number): [Ticket | CircuitOpen, Transition | undefined] => {
      if (state._tag === "closed") return ["closed", undefined]
      const left = state._tag === "open" ? state.since + options.resetMs - now : state.trialRunning ? 1 : 0
      if (left > 0) return [CircuitOpen.refusing(options.name, Math.max(1, Math.ceil(left))), undefined]
      if (state._tag === "half-open") {
        state = { _tag: "half-open", trialRunning: true } // the last trial was interrupted: no transition
        return ["trial", undefined]
      }
      const reason = "reset timeout elapsed: one trial call let through"
      return ["trial", enter({ _tag: "half-open", trialRunning: true }, reason, { resetMs: options.resetMs, openForMs: now - state.since })]
    }

    const settle = (ticket: Ticket, exit: Exit.Exit<unknown, unknown>, now: number): Transition | undefined => {
      // An interruption counted as nothing leaves the count (or the half-open state) as it was.
      const interrupted = !options.countInterruption && Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)
      const failureCause = Exit.isFailure(exit) ? exit.cause : Cause.empty
      const failure = Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause) ? "interrupted" : "failed"
      if (ticket === "trial") {
        if (interrupted) {
          state = { _tag: "half-open", trialRunning: false } // still half-open: the next call is the trial
          return undefined
        }
        return Exit.isSuccess(exit)
          ? enter(closed, "trial call succeeded")
          : enter({ _tag: "open", since: now }, `trial call ${failure}`, { resetMs: options.resetMs }, failureCause)
      }
      if (interrupted || state._tag !== "closed") return undefined
      // A call let in while closed counts only if the breaker is still closed when it ends.
      const failures = Exit.isSuccess(exit) ? 0 : state.failures + 1
      if (failures === 0 || failures < options.failures) {
        state = { _tag: "closed", failures }
        return undefined
      }
      const reason = `${failures} consecutive failures (the last ${failure})`
      return enter({ _tag: "open", since: now }, reason, { failures, resetMs: options.resetMs }, failureCause)
    }

    // Uninterruptible from admission until `onExit` is installed, so a trial always settles.
    const protect = Effect.fn("CircuitBreaker.protect")(function*<A, E, R>(self: Effect.Effect<A, E, R>) {
      return yield* Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const [ticket, transition] = admit(yield* Clock.currentTimeMillis)
          yield* log(transition)
          if (ticket instanceof CircuitOpen) return yield* ticket
          return yield* Effect.onExit(restore(self), (exit) =>
            Effect.flatMap(Clock.currentTimeMillis, (now) => log(settle(ticket, exit, now))))
        })
      )
    })

    return { name: options.name, protect, state: Effect.sync(() => state._tag) }
  })
