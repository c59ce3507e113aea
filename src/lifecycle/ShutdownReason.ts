// Why the service is stopping. The first reason to reach the latch wins; later ones are logged.
import { type Cause, Data } from "effect"

export type SignalName = "SIGTERM" | "SIGINT"

export type ShutdownReason = Data.TaggedEnum<{
  Signal: { readonly signal: SignalName }
  Admin: {}
  /** `component` names what failed: "startup", "public server", "process", a supervised fiber. */
  Fatal: { readonly component: string; readonly cause: Cause.Cause<unknown> }
  Completed: {}
}>

export const ShutdownReason = Data.taggedEnum<ShutdownReason>()

/** The `reason` field of shutdown log lines: SIGTERM, SIGINT, admin, fatal, completed. */
export const label: (reason: ShutdownReason) => string = ShutdownReason.$match({
  Signal: ({ signal }) => signal,
  Admin: () => "admin",
  Fatal: () => "fatal",
  Completed: () => "completed"
})
