// The access log: one line per request, `"message":"request"` with method, route (the template,
// as http_requests_total labels it), status, durationMs, and the request's traceId/spanId.
// LOG_REQUESTS=true writes it at info; otherwise it is a debug line (LOG_LEVEL=debug shows it).
// Whether it can be written at all is decided once, from the configuration and the minimum log
// level: when it cannot, the request path does nothing for it (no clock read, no line built).
import { Effect, LogLevel } from "effect"

export interface AccessLine {
  readonly server: string
  readonly method: string
  readonly route: string
  readonly status: number
  readonly durationMs: number
}

/** The level the access line is written at, or undefined when the minimum level drops it. */
export const levelFor = (logRequests: boolean, minimum: LogLevel.LogLevel): LogLevel.LogLevel | undefined => {
  const level = logRequests ? LogLevel.Info : LogLevel.Debug
  return LogLevel.greaterThanEqual(level, minimum) ? level : undefined
}

/** Milliseconds with microsecond precision: a fast request is not "0". */
export const since = (startedAt: number): number => Math.round((performance.now() - startedAt) * 1000) / 1000

/** The fields are the message's own (JsonLogger turns a plain object into fields): no annotation
 * FiberRef is written per request. */
export const write = (level: LogLevel.LogLevel, line: AccessLine): Effect.Effect<void> => Effect.logWithLevel(level, "request", line)
