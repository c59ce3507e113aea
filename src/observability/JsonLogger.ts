// One JSON object per line on stdout: timestamp, level, message, service, fiber, annotations,
// and traceId/spanId when the line is written inside a span. Nothing else goes to stdout.
// Writing a line never throws into the fiber that logs, and never blocks it: stdout goes through
// a LogStream (a broken or full pipe drops lines; see there), and a line that cannot be built is
// replaced by a minimal one.
import { Cause, Context, FiberId, FiberRef, FiberRefs, HashMap, List, Logger, LogLevel, Option, Tracer } from "effect"
import type { LogLevelName } from "../config/AppConfig.js"
import * as LogStream from "./LogStream.js"

export type Write = (line: string) => void

/**
 * The process's stdout as a Write, for main.ts to make once. Problems with stdout itself (broken,
 * full) are reported on stderr, one line each; an error on stderr is swallowed (there is nowhere
 * left to say it), so neither stream can raise an uncaught exception.
 */
export const stdout = (service: string): Write => {
  let stderrUsable = true
  process.stderr.on("error", () => {
    stderrUsable = false
  })
  const line = (level: string, message: string, fields: Record<string, unknown>) =>
    JSON.stringify({ timestamp: new Date().toISOString(), level, message, service, fiber: "#0", ...fields })
  const stream = LogStream.make(process.stdout, {
    report: (problem, detail) => {
      if (!stderrUsable) return
      process.stderr.write(line(
        problem === "broken" ? "error" : "warn",
        problem === "broken"
          ? "stdout failed: no further log lines are written"
          : "stdout is full: log lines past the buffer bound are dropped and counted",
        detail
      ) + "\n")
    },
    droppedLine: (dropped) => line("warn", "log lines dropped: stdout was full", { dropped })
  })
  return stream.write
}

const reserved = new Set(["timestamp", "level", "message", "service", "fiber"])

const safeValue = (value: unknown): unknown => {
  if (value instanceof Error) return { name: value.name, message: value.message }
  if (typeof value === "bigint") return value.toString()
  return value
}

/** Strings become the message; plain objects passed to Effect.log become fields. */
const splitMessage = (message: unknown): { text: string; fields: Record<string, unknown> } => {
  const parts = Array.isArray(message) ? message : [message]
  const texts: Array<string> = []
  const fields: Record<string, unknown> = {}
  for (const part of parts) {
    if (part !== null && typeof part === "object" && !(part instanceof Error) && !Array.isArray(part)) {
      for (const [key, value] of Object.entries(part)) fields[key] = safeValue(value)
    } else {
      texts.push(part instanceof Error ? `${part.name}: ${part.message}` : String(part))
    }
  }
  return { text: texts.join(" "), fields }
}

const currentSpan = (refs: FiberRefs.FiberRefs): Option.Option<Tracer.AnySpan> =>
  Context.getOption(FiberRefs.getOrDefault(refs, FiberRef.currentContext), Tracer.ParentSpan)

/**
 * `scheme://user:password@` anywhere in a line (a client error quoting its URL, a cause) becomes
 * `scheme://<redacted>@`: defence in depth, secrets are Redacted in config already.
 */
const credentialsInUrl = /([a-z][a-z0-9+.-]*:\/\/)[^/?#@\s"\\]+@/gi

export const maskCredentials = (line: string): string =>
  line.includes("@") ? line.replace(credentialsInUrl, "$1<redacted>@") : line

export const make = (service: string, write: Write) =>
  Logger.make((options) => {
    let line: string
    try {
      line = format(service, options)
    } catch {
      // A field whose getter throws, a cause that cannot be rendered: the line must not fail the
      // fiber that logs (a request would become a 500, a fault handler could loop).
      line = JSON.stringify({ level: options.logLevel.label.toLowerCase(), service, logError: "the line could not be built" })
    }
    try {
      write(maskCredentials(line))
    } catch {
      // A Write that throws (a test's, or a custom one) loses its line, never the caller.
    }
  })

const format = (
  service: string,
  { annotations, cause, context, date, fiberId, logLevel, message, spans }: Logger.Logger.Options<unknown>
): string => {
  const { fields, text } = splitMessage(message)
  const entry: Record<string, unknown> = {
    timestamp: date.toISOString(),
    level: logLevel.label.toLowerCase(),
    message: text,
    service,
    fiber: FiberId.threadName(fiberId)
  }
  const span = currentSpan(context)
  if (Option.isSome(span)) {
    entry.traceId = span.value.traceId
    entry.spanId = span.value.spanId
  }
  for (const [key, value] of HashMap.toEntries(annotations)) {
    if (!reserved.has(key)) entry[key] = safeValue(value)
  }
  for (const [key, value] of Object.entries(fields)) {
    if (!reserved.has(key)) entry[key] = value
  }
  const now = date.getTime()
  for (const span of List.toArray(spans)) entry[`${span.label}Ms`] = now - span.startTime
  if (!Cause.isEmpty(cause)) entry.cause = Cause.pretty(cause, { renderErrorCause: true })
  return safeStringify(entry)
}

const safeStringify = (entry: Record<string, unknown>): string => {
  try {
    return JSON.stringify(entry)
  } catch {
    // A circular or otherwise unserialisable field must not lose the line itself.
    const { fiber, level, message, service, timestamp } = entry
    return JSON.stringify({ timestamp, level, message, service, fiber, logError: "fields were not serialisable" })
  }
}

const levels: Record<LogLevelName, LogLevel.LogLevel> = {
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warn: LogLevel.Warning,
  error: LogLevel.Error
}

/** Replaces Effect's default (pretty/logfmt) logger with the JSON one. Provide once, at the edge. */
export const layer = (service: string, write: Write) => Logger.replace(Logger.defaultLogger, make(service, write))

/** LOG_LEVEL: lines below it are dropped. */
export const minimumLevel = (level: LogLevelName) => Logger.minimumLogLevel(levels[level])
