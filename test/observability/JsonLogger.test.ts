import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { EventEmitter } from "node:events"
import * as JsonLogger from "../../src/observability/JsonLogger.js"
import * as LogStream from "../../src/observability/LogStream.js"

/** A stand-in for process.stdout: records writes, buffers like a pipe the reader stopped reading. */
class FakeOutput extends EventEmitter {
  readonly written: Array<string> = []
  writableLength = 0
  throwOnWrite: Error | undefined
  write(chunk: string) {
    if (this.throwOnWrite !== undefined) throw this.throwOnWrite
    this.written.push(chunk)
    return true
  }
}

const makeStream = (maxBufferedBytes = 100) => {
  const output = new FakeOutput()
  const reports: Array<readonly [string, Record<string, unknown>]> = []
  const stream = LogStream.make(output, {
    report: (problem, detail) => void reports.push([problem, detail]),
    droppedLine: (dropped) => `dropped ${dropped}`,
    maxBufferedBytes
  })
  return { output, reports, stream }
}

const capture = (level: "debug" | "info" | "warn" | "error" = "info") => {
  const raw: Array<string> = []
  const layer = Layer.merge(JsonLogger.layer("svc", (line) => raw.push(line)), JsonLogger.minimumLevel(level))
  return { raw, lines: () => raw.map((line) => JSON.parse(line) as Record<string, unknown>), layer }
}

describe("JsonLogger", () => {
  it.effect("one JSON object per line with timestamp, level, message, service, fiber and annotations", () => {
    const logs = capture()
    return Effect.gen(function*() {
      yield* Effect.logInfo("listening", { port: 8080 }).pipe(Effect.annotateLogs({ phase: "start", service: "ignored" }))
      expect(logs.raw).toHaveLength(1)
      expect(logs.raw[0]).not.toContain("\n")
      const [line] = logs.lines()
      expect(line).toEqual({
        timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        level: "info",
        message: "listening",
        service: "svc", // an annotation cannot overwrite a reserved field
        fiber: expect.stringMatching(/^#\d+$/),
        phase: "start",
        port: 8080
      })
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("a cause is rendered in full; an Error value is reduced to name and message", () => {
    const logs = capture()
    return Effect.gen(function*() {
      yield* Effect.logError("failed", { error: new TypeError("bad") }).pipe(
        Effect.zipRight(Effect.die(new Error("kaboom"))),
        Effect.catchAllCause((cause) => Effect.logError("request failed", cause))
      )
      const [plain, withCause] = logs.lines()
      expect(plain).toMatchObject({ level: "error", error: { name: "TypeError", message: "bad" } })
      expect(withCause).toMatchObject({ level: "error", message: "request failed" })
      expect(String(withCause!.cause)).toContain("kaboom")
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("inside a span, every line carries its traceId and spanId", () => {
    const logs = capture()
    return Effect.gen(function*() {
      const span = yield* Effect.currentSpan
      yield* Effect.logInfo("inside")
      const [line] = logs.lines()
      expect(line).toMatchObject({ traceId: span.traceId, spanId: span.spanId })
    }).pipe(Effect.withSpan("request"), Effect.provide(logs.layer))
  })

  it.effect("LOG_LEVEL drops lines below it", () => {
    const logs = capture("warn")
    return Effect.gen(function*() {
      yield* Effect.logDebug("d")
      yield* Effect.logInfo("i")
      yield* Effect.logWarning("w")
      yield* Effect.logError("e")
      expect(logs.lines().map((line) => [line.level, line.message])).toEqual([["warn", "w"], ["error", "e"]])
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("a field that cannot be serialised does not lose the line", () => {
    const logs = capture()
    const circular: Record<string, unknown> = {}
    circular.self = circular
    return Effect.gen(function*() {
      yield* Effect.logInfo("odd", { circular })
      expect(logs.lines()[0]).toMatchObject({ message: "odd", logError: "fields were not serialisable" })
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("a Write that throws, or a line that cannot be built, never fails the fiber that logs", () => {
    const throwing = Layer.merge(JsonLogger.layer("svc", () => {
      throw new Error("EPIPE")
    }), JsonLogger.minimumLevel("info"))
    const hostile = {
      get field() {
        throw new Error("getter")
      }
    }
    const logs = capture()
    return Effect.gen(function*() {
      expect(yield* Effect.exit(Effect.logInfo("lost").pipe(Effect.provide(throwing)))).toMatchObject({ _tag: "Success" })
      yield* Effect.logInfo("odd", hostile).pipe(Effect.provide(logs.layer))
      expect(logs.lines()).toEqual([{ level: "info", service: "svc", logError: "the line could not be built" }])
    })
  })

  it.effect("credentials inside a URL are masked in every line, wherever they appear", () => {
    const logs = capture()
    return Effect.gen(function*() {
      yield* Effect.logError("upstream failed", { target: "http://user:s3cr3t@upstream:8080/x" }).pipe(
        Effect.zipRight(Effect.die(new Error("Transport error (GET postgres://jobs:s3cr3t@db/jobs)"))),
        Effect.catchAllCause((cause) => Effect.logError("with cause", cause))
      )
      yield* Effect.logInfo("no credentials: http://host/a@b and mail@example.com")
      expect(logs.raw.join("\n")).not.toContain("s3cr3t")
      expect(logs.lines()[0]!.target).toBe("http://<redacted>@upstream:8080/x")
      expect(logs.lines()[2]!.message).toBe("no credentials: http://host/a@b and mail@example.com")
    }).pipe(Effect.provide(logs.layer))
  })
})

describe("LogStream: the logger's output stream (issue 22)", () => {
  it("a write error stops output at once, is reported once, and later lines are only counted", () => {
    const { output, reports, stream } = makeStream()
    stream.write("a")
    // Node reports EPIPE asynchronously, as an 'error' event: without a listener, an uncaught exception.
    expect(() => output.emit("error", Object.assign(new Error("write EPIPE"), { code: "EPIPE" }))).not.toThrow()
    output.emit("error", Object.assign(new Error("write EPIPE"), { code: "EPIPE" }))
    for (let i = 0; i < 1_000; i++) stream.write("b")
    expect(output.written).toEqual(["a\n"])
    expect(reports).toEqual([["broken", { error: "EPIPE", droppedBefore: 0 }]])
    expect(stream.broken()).toBe(true)
    expect(stream.dropped()).toBe(1_000)
  })

  it("a write that throws synchronously (EBADF, a destroyed stream) counts as broken too", () => {
    const { output, reports, stream } = makeStream()
    output.throwOnWrite = Object.assign(new Error("bad file descriptor"), { code: "EBADF" })
    expect(() => stream.write("a")).not.toThrow()
    stream.write("b")
    expect(reports).toEqual([["broken", { error: "EBADF", droppedBefore: 0 }]])
    expect(stream.dropped()).toBe(1)
  })

  it("a full pipe: past the bound lines are dropped and counted, reported once; after drain one line says how many", () => {
    const { output, reports, stream } = makeStream(100)
    stream.write("a")
    output.writableLength = 100 // the reader stopped reading: Node's buffer reached the bound
    for (let i = 0; i < 5; i++) stream.write(`lost ${i}`)
    expect(output.written).toEqual(["a\n"])
    expect(reports).toEqual([["full", { maxBufferedBytes: 100 }]])
    output.writableLength = 0
    output.emit("drain")
    stream.write("c")
    expect(output.written).toEqual(["a\n", "dropped 5\n", "c\n"])
    // A second episode is counted and summed again, but not reported again.
    output.writableLength = 100
    stream.write("lost")
    output.writableLength = 0
    stream.write("d")
    expect(output.written.slice(3)).toEqual(["dropped 1\n", "d\n"])
    expect(reports).toHaveLength(1)
    expect(stream.dropped()).toBe(6)
  })

  it("a report that throws (stderr gone too) is contained", () => {
    const output = new FakeOutput()
    const stream = LogStream.make(output, {
      report: () => {
        throw new Error("stderr EPIPE")
      },
      droppedLine: String
    })
    expect(() => output.emit("error", new Error("EPIPE"))).not.toThrow()
    expect(() => stream.write("x")).not.toThrow()
  })
})
