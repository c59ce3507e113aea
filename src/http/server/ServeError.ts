/**
 * The one way a draining server fails: it cannot listen, or its listener breaks after it started.
 * Owns: nothing (an error value).
 */
import { Data } from "effect"

export class ServeError extends Data.TaggedError("ServeError")<{
  readonly server: string
  readonly reason: "Listen" | "Runtime"
  readonly cause: unknown
}> {
  override get message() {
    return `${this.server} server: ${this.reason === "Listen" ? "cannot listen" : "listener failed"}: ${String(this.cause)}`
  }
}
