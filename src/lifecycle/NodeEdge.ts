/**
 * The edge where Node calls our code (`request`, `upgrade`, `connection`, ws `message`, timers,
 * stream callbacks). A throw there is an uncaught exception for the whole process, and no Effect
 * code around it can catch it: every such callback goes through `guard`.
 * Owns: the rate limit of its warn lines (a window and a count per place).
 * Does not own: what a throw fails. The caller says, in `onThrow`, which one request, socket or
 *   session pays for it (a 400, a 1011 close, a destroyed socket).
 * Released when: nothing to release; it is made in its owner's scope and logs in its runtime.
 */
import { Cause, Clock, Effect, Metric, Runtime } from "effect"

/** Client-caused lines per place per window; the rest are counted and summed into the next line. */
export const CLIENT_ERROR_LINES_PER_WINDOW = 10
export const CLIENT_ERROR_WINDOW_MS = 10_000

export const clientErrors = Metric.counter("client_errors_total", {
  description: "Requests, frames and connections refused for what the client sent, by kind (logged at warn, rate-limited)."
})

export interface Edge {
  /**
   * Wraps a callback Node will call. A throw runs `onThrow` (fail that one request, socket or
   * session) and is logged once at warn with its cause; it never reaches the process.
   */
  readonly guard: <A extends ReadonlyArray<any>>(
    where: string,
    callback: (...args: A) => void,
    onThrow?: (error: unknown, ...args: A) => void
  ) => (...args: A) => void
  /** A client sent something we refuse: one warn line, no stack, rate-limited per `kind`. */
  readonly clientError: (kind: string, message: string, annotations?: Record<string, unknown>) => void
}

interface Window {
  startedAt: number
  lines: number
  suppressed: number
}

export const make = Effect.gen(function*() {
  const runtime = yield* Effect.runtime<never>()
  // owner: the caller of the guarded callback. Each run is a synchronous log line and a counter
  // inside Node's callback, finished before the callback returns: no fiber outlives it.
  const runSync = Runtime.runSync(runtime) // owner: the caller of the guarded callback
  const windows = new Map<string, Window>()

  /** True when a line for `kind` may be written now; `suppressed` is what the window swallowed. */
  const admit = (kind: string, now: number): { readonly write: boolean; readonly suppressed: number } => {
    let window = windows.get(kind)
    if (window === undefined || now - window.startedAt >= CLIENT_ERROR_WINDOW_MS) {
      const suppressed = window?.suppressed ?? 0
      window = { startedAt: now, lines: 0, suppressed: 0 }
      windows.set(kind, window)
      window.lines += 1
      return { write: true, suppressed }
    }
    if (window.lines < CLIENT_ERROR_LINES_PER_WINDOW) {
      window.lines += 1
      return { write: true, suppressed: 0 }
    }
    window.suppressed += 1
    return { write: false, suppressed: 0 }
  }

  /** One rate-limited warn line; `clientCaused` also counts it in client_errors_total (a throw in
   * our own callback is a bug, not something the client sent). */
  const warn = (
    kind: string,
    message: string,
    annotations: Record<string, unknown>,
    cause: Cause.Cause<unknown>,
    clientCaused: boolean
  ) => {
    try {
      // Synchronous: done before the guarded callback returns.
      runSync(Effect.gen(function*() { // owner: this guarded callback
        if (clientCaused) yield* Metric.increment(Metric.tagged(clientErrors, "kind", kind))
        const { suppressed, write } = admit(kind, yield* Clock.currentTimeMillis)
        if (!write) return
        yield* Effect.logWarning(message, cause).pipe(
          Effect.annotateLogs({ kind, ...annotations, ...(suppressed > 0 ? { suppressedSinceLastLine: suppressed } : {}) })
        )
      }))
    } catch {
      // The logger itself failed: there is nowhere left to report it, and the edge must not throw.
    }
  }

  const guard: Edge["guard"] = (where, callback, onThrow) => (...args) => {
    try {
      callback(...args)
    } catch (error) {
      warn(where, `${where} threw; failing only what it was serving`, {}, Cause.die(error), false)
      if (onThrow === undefined) return
      try {
        onThrow(error, ...args)
      } catch {
        // Failing the one request or socket threw too; it is already logged above.
      }
    }
  }

  const clientError: Edge["clientError"] = (kind, message, annotations = {}) =>
    warn(kind, message, annotations, Cause.empty, true)

  return { guard, clientError } satisfies Edge
})
