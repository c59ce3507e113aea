/**
 * SIGTERM and SIGINT.
 * Owns: the process listeners for both signals (guarded: see listenScoped) and the fibers their
 *   callbacks start.
 * Does not own: the shutdown itself. The first signal only completes `received` (one arm of the
 *   main race); a second signal (not a copy of the first keypress: see SameKeypressWindowMs)
 *   forces the process out at once with 143 (SIGTERM) or 130 (SIGINT) after logging the owned
 *   fibers still running.
 * Released when: its layer's scope closes, last but one (after everything it may have to cut short).
 */
import { Config, Context, Deferred, Effect, FiberSet, Layer, Option } from "effect"
import { FiberRegistry } from "./FiberRegistry.js"
import { listenScoped } from "./listenScoped.js"
import { ExitCode, ProcessExit } from "./ProcessExit.js"
import type { SignalName } from "./ShutdownReason.js"

export class Signals extends Context.Tag("app/Signals")<Signals, {
  /** The first signal received. */
  readonly received: Effect.Effect<SignalName>
}>() {}

/**
 * One Ctrl-C at a terminal can reach us more than once: the terminal signals its whole foreground
 * process group (us and our parent), and a parent that forwards signals (npm, `node --watch`)
 * sends us its own copy (`node --watch` always; npm when it is our direct parent). Node does not
 * tell us who sent a signal (no siginfo), so nothing in the signal itself tells a copy from a second
 * keypress; time does: a copy arrives as soon as the forwarder's event loop and then ours get to run
 * (measured 24 to 345 ms after the first on a 2-core machine at load 15: our own loop is busy
 * starting the drain), while a human presses Ctrl-C again after seeing the shutdown start and wait.
 * So under a forwarding parent, the same signal again within this window of the first is taken as a
 * copy (logged, not counted); after it, or a different signal at any time, it forces the exit.
 * Without a forwarding parent no copy can come, and every signal counts (DESIGN: a second signal
 * forces out at once).
 */
export const SameKeypressWindowMs = 1_000

export interface Options {
  /** Who forwards signals to us, if anyone: only then can a copy arrive (see SameKeypressWindowMs). */
  readonly forwardedBy?: string | undefined
}

const forcedCode = (signal: SignalName) => signal === "SIGINT" ? ExitCode.SecondSigint : ExitCode.SecondSigterm

/** `emitter` is `process` in production; tests pass their own EventEmitter. */
export const make = (emitter: NodeJS.EventEmitter = process, options: Options = {}) =>
  Effect.gen(function*() {
    const registry = yield* FiberRegistry
    const exit = yield* ProcessExit
    // Read synchronously in the Node callback, so that arrival order is decision order.
    const clock = yield* Effect.clock
    const received = yield* Deferred.make<SignalName>()
    // owner: this layer's scope; signal callbacks start their work in it.
    const run = yield* FiberSet.makeRuntime<never>()
    const { forwardedBy } = options
    let first: { readonly signal: SignalName; readonly at: number } | undefined

    const forceOut = Effect.fn("Signals.forceOut")(function*(signal: SignalName) {
      const running = yield* registry.snapshot
      const code = forcedCode(signal)
      yield* Effect.logError("forced exit: second signal").pipe(
        Effect.annotateLogs({ signal, exitCode: code, running, finalizersSkipped: true })
      )
      yield* exit.now(code)
    })

    const onSignal = (signal: SignalName) => () => {
      const now = clock.unsafeCurrentTimeMillis()
      if (first === undefined) {
        first = { signal, at: now }
        const window = forwardedBy === undefined ? {} : { forwardedBy, sameKeypressWindowMs: SameKeypressWindowMs }
        run(Effect.zipRight(
          Effect.logInfo("signal received").pipe(Effect.annotateLogs({ signal, ...window })),
          Deferred.succeed(received, signal)
        ))
        return
      }
      const sinceFirstMs = now - first.at
      if (forwardedBy !== undefined && signal === first.signal && sinceFirstMs < SameKeypressWindowMs) {
        run(Effect.logInfo("signal ignored: a copy of the first (same keypress)").pipe(
          Effect.annotateLogs({ signal, forwardedBy, sinceFirstMs, sameKeypressWindowMs: SameKeypressWindowMs })
        ))
        return
      }
      run(forceOut(signal))
    }
    yield* listenScoped(emitter, { SIGTERM: onSignal("SIGTERM"), SIGINT: onSignal("SIGINT") })
    return Signals.of({ received: Deferred.await(received) })
  })

/**
 * Markers a forwarding parent leaves in our environment (not settings: nobody sets them by hand,
 * so they are read here rather than in AppConfig). `node --watch` sets WATCH_REPORT_DEPENDENCIES
 * in its child's; npm (and yarn, pnpm) set npm_lifecycle_event in a script's. Run directly
 * (`node dist/main.js`, Docker, Kubernetes, systemd) neither is set and every signal counts.
 */
export const forwardingParent: Config.Config<string | undefined> = Config.all({
  watch: Config.option(Config.string("WATCH_REPORT_DEPENDENCIES")),
  npm: Config.option(Config.string("npm_lifecycle_event"))
}).pipe(Config.map(({ npm, watch }) =>
  Option.isSome(watch) ? "node --watch" : Option.isSome(npm) ? `npm (${npm.value})` : undefined
))

export const layer = Layer.scoped(
  Signals,
  Effect.flatMap(Effect.orDie(forwardingParent), (forwardedBy) => make(process, { forwardedBy }))
)
