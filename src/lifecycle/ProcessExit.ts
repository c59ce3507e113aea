// The capability to end the process. Only main.ts provides the real one; everything else asks for
// it through this tag, so tests can record the code instead of dying.
import { Context, type Effect } from "effect"

export const ExitCode = {
  Ok: 0,
  Failure: 1,
  DeadlineExceeded: 124,
  SecondSigint: 130,
  SecondSigterm: 143
} as const

export class ProcessExit extends Context.Tag("app/ProcessExit")<ProcessExit, {
  /** Ends the process now with `code`; finalizers that have not run are skipped. */
  readonly now: (code: number) => Effect.Effect<void>
}>() {}
