// Captures the service's JSON log lines in memory, parsed, for assertions.
import { Logger } from "effect"
import * as JsonLogger from "../../src/observability/JsonLogger.js"

export interface CapturedLogs {
  readonly lines: Array<Record<string, unknown>>
  readonly layer: ReturnType<typeof Logger.replace>
}

export const captureLogs = (): CapturedLogs => {
  const lines: Array<Record<string, unknown>> = []
  return {
    lines,
    layer: Logger.replace(Logger.defaultLogger, JsonLogger.make("test", (line) => lines.push(JSON.parse(line))))
  }
}
