// A short, replayable account of a fuzz run that stopped (fast-check's own report prints every
// byte of a 20 KB counterexample as a number).
import type fc from "fast-check"

export const stopReport = <T>(details: fc.RunDetails<T>) => {
  const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)
  return `stopped at run ${details.numRuns} (replay: FUZZ_SEED=${details.seed}, fast-check path "${details.counterexamplePath ?? ""}"): ${error.slice(0, 1_500)}`
}
