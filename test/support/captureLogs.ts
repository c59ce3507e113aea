// Captures the service's JSON log lines in memory, parsed, so a test can assert on them or wait
// for one (an event, not a sleep).
import { Effect, Logger } from "effect"
import * as JsonLogger from "../../src/observability/JsonLogger.js"

export type LogLine = Record<string, unknown>

export interface CapturedLogs {
  readonly lines: Array<LogLine>
  readonly layer: ReturnType<typeof Logger.replace>
  readonly waitForLine: (predicate: (line: LogLine) => boolean, timeoutMs?: number) => Effect.Effect<LogLine, Error>
}

export const captureLogs = (): CapturedLogs => {
  const lines: Array<LogLine> = []
  const waiters = new Set<() => void>()
  const layer = Logger.replace(
    Logger.defaultLogger,
    JsonLogger.make("test", (line) => {
      lines.push(JSON.parse(line))
      for (const wake of waiters) wake()
    })
  )
  const waitForLine = (predicate: (line: LogLine) => boolean, timeoutMs = 5_000) =>
    Effect.async<LogLine>((resume) => {
      const check = () => {
        const found = lines.find(predicate)
        if (found === undefined) return
        waiters.delete(check)
        resume(Effect.succeed(found))
      }
      waiters.add(check)
      check()
      return Effect.sync(() => waiters.delete(check))
    }).pipe(
      Effect.timeoutFail({ duration: timeoutMs, onTimeout: () => new Error(`timed out after ${timeoutMs} ms waiting for a log line`) })
    )
  return { lines, layer, waitForLine }
}
