/**
 * What stays dynamic once the API is composed statically (src/App.ts): each feature's part of
 * /readyz. A feature's layer adds its check when it is built; the readiness probe asks every
 * check on each request, so the order of layers does not matter.
 * Owns: the list of checks.
 * Does not own: what a check reads (the feature's own monitor), or the probe (CoreApi's handler).
 * Released when: nothing to release.
 */
import { Context, Effect, Layer } from "effect"

/** A feature's part of /readyz: synchronous (read on every probe), so it reports what the
 * feature's own monitor last saw; undefined when ready, else why not. */
export interface ReadinessCheck {
  readonly name: string
  readonly unsafeNotReady: () => string | undefined
}

export class ReadinessChecks extends Context.Tag("app/ReadinessChecks")<ReadinessChecks, {
  /** Makes /readyz answer 503 while `check` says the feature cannot serve (its store is down). */
  readonly add: (check: ReadinessCheck) => Effect.Effect<void>
  /** The first check's reason not to be ready, or undefined when all are ready (never throws). */
  readonly unsafeNotReady: () => string | undefined
}>() {}

export const make = Effect.sync(() => {
  const checks: Array<ReadinessCheck> = []
  return ReadinessChecks.of({
    add: (check) => Effect.sync(() => void checks.push(check)),
    unsafeNotReady: () => {
      for (const check of checks) {
        const reason = check.unsafeNotReady()
        if (reason !== undefined) return reason
      }
      return undefined
    }
  })
})

export const layer = Layer.effect(ReadinessChecks, make)
