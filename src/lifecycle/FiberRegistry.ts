/**
 * The registry of live owned fibers: name, owner, age.
 * Owns: nothing but its own bookkeeping; it observes fibers, it never starts or stops them.
 * Does not own: the fibers it lists (their owners interrupt them).
 * Released when: never; an entry leaves when its fiber ends, however it ends.
 */
import { Clock, Context, Effect, FiberId, Layer } from "effect"

export interface OwnedFiber {
  readonly fiber: string
  readonly name: string
  readonly owner: string
  readonly ageMs: number
}

interface Entry {
  readonly name: string
  readonly owner: string
  readonly startedAt: number
}

export class FiberRegistry extends Context.Tag("app/FiberRegistry")<FiberRegistry, {
  /** Lists the current fiber under `name`/`owner` while `self` runs. */
  readonly track: (name: string, owner: string) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  readonly snapshot: Effect.Effect<ReadonlyArray<OwnedFiber>>
  readonly size: () => number
}>() {}

export const make = Effect.sync(() => {
  const entries = new Map<string, Entry>()
  return FiberRegistry.of({
    track: (name, owner) => (self) =>
      Effect.withFiberRuntime((fiber) => {
        const key = FiberId.threadName(fiber.id())
        // Registration and its removal are installed together: no interrupt can fall between them.
        return Effect.uninterruptibleMask((restore) =>
          Effect.flatMap(Clock.currentTimeMillis, (startedAt) => {
            entries.set(key, { name, owner, startedAt })
            return Effect.ensuring(restore(self), Effect.sync(() => entries.delete(key)))
          })
        )
      }),
    snapshot: Effect.map(Clock.currentTimeMillis, (now) =>
      Array.from(entries, ([fiber, entry]) => ({ fiber, name: entry.name, owner: entry.owner, ageMs: now - entry.startedAt }))),
    size: () => entries.size
  })
})

export const layer = Layer.effect(FiberRegistry, make)
