// One JSON object per line on stdout: timestamp, level, message, service, fiber, annotations,
// and traceId/spanId when the line is written inside a span. Nothing else goes to stdout.
import { Cause, Context, FiberId, FiberRef, FiberRefs, HashMap, List, Logger, LogLevel, Option, Tracer } from "effect"
import type { LogLevelName } from "../config/AppConfig.js"

export type Write = (line: string) => void

const writeStdout: Write = (line) => {
  process.stdout.write(line + "\n")
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

export const make = (service: string, write: Write = writeStdout) =>
  Logger.make(({ annotations, cause, context, date, fiberId, logLevel, message, spans }) => {
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
    write(safeStringify(entry))
  })

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
export const layer = (service: string, write?: Write) => Logger.replace(Logger.defaultLogger, make(service, write))

/** LOG_LEVEL: lines below it are dropped. */
export const minimumLevel = (level: LogLevelName) => Logger.minimumLogLevel(levels[level])
