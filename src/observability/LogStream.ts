/**
 * The stream the JSON logger writes to (stdout in production), written so that logging can never
 * block, spin or crash the service, whatever happens to the reader.
 * Owns: the decision to write to the stream or not, and the stream's `error` listener.
 *   - A write error (EPIPE when the reader went away, EBADF, ...) stops output for good, at
 *     once; later lines are dropped and counted. Without the listener the error would be an
 *     uncaught exception, whose fault line would fail the same way: a loop.
 *   - A full pipe: Node buffers what the kernel does not take. Past `maxBufferedBytes` lines are
 *     dropped and counted instead of growing memory; once the pipe drains, one line says how many.
 *   - Each of the two is reported once, through `report` (stderr in production).
 * Does not own: the stream (the process opened fd 1 and closes it at exit; whatever is still
 *   buffered then is dropped, which is what a reader that stopped reading gets).
 * Released when: never: it lives as long as the process, so the last line before exit is written.
 */
export const MAX_BUFFERED_BYTES = 1024 * 1024

/** What a logger needs from a Node writable: `process.stdout` in production, a fake in tests. */
export interface Output {
  readonly writableLength: number
  readonly write: (chunk: string) => unknown
  readonly on: (event: "error" | "drain", listener: (error?: unknown) => void) => unknown
}

export interface LogStreamOptions {
  /** One line about the stream itself (broken, full), written elsewhere; must not throw. */
  readonly report: (problem: "broken" | "full", detail: Record<string, unknown>) => void
  /** The line written once a full stream drained again, counting what was dropped. */
  readonly droppedLine: (dropped: number) => string
  readonly maxBufferedBytes?: number
}

export interface LogStream {
  readonly write: (line: string) => void
  /** Lines not written: dropped while full, or after the stream broke. */
  readonly dropped: () => number
  readonly broken: () => boolean
}

const codeOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "code" in error ? String(error.code) : String(error)

export const make = (output: Output, options: LogStreamOptions): LogStream => {
  const maxBuffered = options.maxBufferedBytes ?? MAX_BUFFERED_BYTES
  let broken = false
  let reportedFull = false
  let dropped = 0
  let droppedSinceFull = 0

  const report: LogStreamOptions["report"] = (problem, detail) => {
    try {
      options.report(problem, detail)
    } catch {
      // Nowhere left to say it; the count is still kept.
    }
  }

  const fail = (error: unknown) => {
    if (broken) return
    broken = true
    report("broken", { error: codeOf(error), droppedBefore: dropped })
  }

  const send = (text: string) => {
    try {
      output.write(text + "\n")
    } catch (error) {
      // Some streams throw synchronously (a destroyed stream, an invalid chunk) instead of emitting.
      fail(error)
    }
  }

  const flushDropped = () => {
    if (broken || droppedSinceFull === 0 || output.writableLength >= maxBuffered) return
    const count = droppedSinceFull
    droppedSinceFull = 0
    let line: string
    try {
      line = options.droppedLine(count)
    } catch {
      return
    }
    send(line)
  }

  // Both listeners are Node callbacks: neither can throw (report and send catch everything).
  output.on("error", fail)
  output.on("drain", flushDropped)

  const write = (line: string) => {
    if (broken) {
      dropped += 1
      return
    }
    if (output.writableLength >= maxBuffered) {
      dropped += 1
      droppedSinceFull += 1
      if (!reportedFull) {
        reportedFull = true
        report("full", { maxBufferedBytes: maxBuffered })
      }
      return
    }
    flushDropped()
    send(line)
  }

  return { write, dropped: () => dropped, broken: () => broken }
}
