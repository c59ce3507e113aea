/**
 * The shutdown latch and its one budget.
 * Owns: the latch (a Deferred of the first ShutdownReason), the instant shutdown began, the
 *   record of what had to be forced at the deadline, which phases are running, and the book of
 *   what still holds the drain (DrainHolders: each holder contributes its own counts).
 * Does not own: anything it stops. Each owner stops its own resources when its scope closes and
 *   asks this service how much of the budget is left.
 * Released when: never; it is state that lives as long as the program.
 */
import { Cause, Clock, Context, Deferred, Duration, Effect, Exit, Layer, Metric, Option, Ref } from "effect"
import { AppConfig } from "../config/AppConfig.js"
import * as DrainHolders from "./DrainHolders.js"
import { label, type ShutdownReason } from "./ShutdownReason.js"

export class Shutdown extends Context.Tag("app/Shutdown")<Shutdown, {
  readonly budgetMs: number
  /** Completes the latch if it is still open; logs either way (with `details`, e.g. who asked).
   * True when this call won. */
  readonly trigger: (reason: ShutdownReason, details?: Readonly<Record<string, unknown>>) => Effect.Effect<boolean>
  /** Waits for the first reason. */
  readonly await: Effect.Effect<ShutdownReason>
  /** Synchronous, for node callbacks on the hot path (readiness, Connection: close). */
  readonly unsafeIsShuttingDown: () => boolean
  readonly reason: Effect.Effect<Option.Option<ShutdownReason>>
  /** Budget left. Before shutdown began, the whole budget: no release may wait forever. */
  readonly remaining: Effect.Effect<Duration.Duration>
  /** Milliseconds since shutdown began (0 before). */
  readonly elapsed: Effect.Effect<number>
  /** Runs one named phase of the shutdown and logs its duration, elapsed time and outcome
   * ("done", "interrupted" or "failed"). */
  readonly phase: (name: string) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** A phase that may take at most `within`: it runs interruptibly (so the bound holds inside a
   * finalizer), None means the bound cut it, and its line then says outcome "cut". */
  readonly phaseWithin: (name: string, within: Duration.DurationInput) => <A, E, R>(
    self: Effect.Effect<A, E, R>
  ) => Effect.Effect<Option.Option<A>, E, R>
  /** Records something the deadline had to cut short (it makes the exit code 124). */
  readonly recordForced: (what: string) => Effect.Effect<void>
  readonly forced: Effect.Effect<ReadonlyArray<string>>
  /** The phases running now, in the order they started (several run at once: release, drain). */
  readonly runningPhases: Effect.Effect<ReadonlyArray<string>>
  /** The last phase that started, if any. */
  readonly lastPhase: Effect.Effect<Option.Option<string>>
  /** What still holds the drain, by owner (GET /debug/shutdown reads it). */
  readonly holders: DrainHolders.DrainHolders
}>() {}

// Exported from the first scrape with one series per core phase (observability/CoreMetrics).
export const phaseDuration = Metric.gauge("shutdown_phase_duration_seconds", {
  description: "Duration of the last run of each shutdown phase, in seconds (also logged: the process exits)."
})

export const make = (budgetMs: number) =>
  Effect.gen(function*() {
    const latch = yield* Deferred.make<ShutdownReason>()
    // The latch's value, also kept where a Node callback can read it synchronously.
    const state: { reason: Option.Option<ShutdownReason>; startedAt: number } = { reason: Option.none(), startedAt: 0 }
    const forced = yield* Ref.make<ReadonlyArray<string>>([])
    const phases = yield* Ref.make<{ readonly running: ReadonlyArray<string>; readonly last: Option.Option<string> }>({
      running: [],
      last: Option.none()
    })
    const phaseStarted = (name: string) => Ref.update(phases, ({ running }) => ({ running: [...running, name], last: Option.some(name) }))
    const phaseEnded = (name: string) =>
      Ref.update(phases, ({ last, running }) => {
        const at = running.lastIndexOf(name)
        return { last, running: at === -1 ? running : [...running.slice(0, at), ...running.slice(at + 1)] }
      })

    const elapsed = Effect.map(Clock.currentTimeMillis, (now) => Option.isSome(state.reason) ? now - state.startedAt : 0)

    const trigger = Effect.fn("Shutdown.trigger")(
      function*(reason: ShutdownReason, details: Readonly<Record<string, unknown>> = {}) {
        const now = yield* Clock.currentTimeMillis
        // The latch decides who won: the first to complete it.
        if (!(yield* Deferred.succeed(latch, reason))) {
          yield* Effect.logInfo("shutdown already in progress").pipe(
            Effect.annotateLogs({ ...details, reason: label(reason), firstReason: label(yield* Deferred.await(latch)) })
          )
          return false
        }
        state.reason = Option.some(reason)
        state.startedAt = now
        const cause = reason._tag === "Fatal" ? reason.cause : Cause.empty
        const component = reason._tag === "Fatal" ? { component: reason.component } : {}
        yield* Effect.logInfo("shutdown", cause).pipe(Effect.annotateLogs({ ...details, reason: label(reason), budgetMs, ...component }))
        return true
      }
    )

    type Outcome = "done" | "cut" | "interrupted" | "failed"
    const outcomeOf = <A, E>(exit: Exit.Exit<A, E>, cut: (value: A) => boolean): Outcome =>
      Exit.isSuccess(exit) ? (cut(exit.value) ? "cut" : "done") : Cause.isInterruptedOnly(exit.cause) ? "interrupted" : "failed"

    const ended = <A, E>(name: string, start: number, exit: Exit.Exit<A, E>, cut: (value: A) => boolean) =>
      Effect.flatMap(Effect.zip(Clock.currentTimeMillis, elapsed), ([end, sinceTrigger]) =>
        Metric.set(Metric.tagged(phaseDuration, "phase", name), (end - start) / 1000).pipe(
          Effect.zipRight(Effect.logInfo("shutdown phase")),
          Effect.annotateLogs({
            phase: name,
            durationMs: end - start,
            elapsedMs: sinceTrigger,
            outcome: outcomeOf(exit, cut)
          })
        ))

    const logged = (name: string) => <A, E, R>(self: Effect.Effect<A, E, R>, cut: (value: A) => boolean) =>
      Effect.flatMap(Clock.currentTimeMillis, (start) =>
        Effect.zipRight(phaseStarted(name), self).pipe(
          Effect.onExit((exit) => Effect.zipRight(phaseEnded(name), ended(name, start, exit, cut))),
          Effect.annotateLogs({ phase: name }),
          Effect.withSpan("Shutdown.phase", { attributes: { phase: name } })
        ))

    const phase = (name: string) => <A, E, R>(self: Effect.Effect<A, E, R>) => logged(name)(self, () => false)

    const phaseWithin = (name: string, within: Duration.DurationInput) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
      logged(name)(Effect.timeoutOption(Effect.interruptible(self), within), Option.isNone)

    return Shutdown.of({
      budgetMs,
      trigger,
      await: Deferred.await(latch),
      unsafeIsShuttingDown: () => Option.isSome(state.reason),
      reason: Effect.sync(() => state.reason),
      remaining: Effect.map(Clock.currentTimeMillis, (now) =>
        Duration.millis(Option.isNone(state.reason) ? budgetMs : Math.max(0, state.startedAt + budgetMs - now))),
      elapsed,
      phase,
      phaseWithin,
      recordForced: Effect.fn("Shutdown.recordForced")(function*(what: string) {
        yield* Ref.update(forced, (all) => [...all, what])
      }),
      forced: Ref.get(forced),
      runningPhases: Effect.map(Ref.get(phases), (_) => _.running),
      lastPhase: Effect.map(Ref.get(phases), (_) => _.last),
      holders: DrainHolders.make()
    })
  })

export const layer = Layer.effect(Shutdown, Effect.flatMap(AppConfig, (config) => make(config.shutdownTimeoutMs)))
