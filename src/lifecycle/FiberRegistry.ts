/**
 * The registry of live owned fibers: name, owner, age.
 * Owns: nothing but its own bookkeeping; it observes fibers, it never stops them.
 * Does not own: the fibers it lists. `fork` starts a fiber in the caller's scope, so the caller
 *   owns it and its scope interrupts it.
 * Released when: never; an entry leaves when its fiber ends, however it ends.
 */
import { Clock, Context, Effect, type Fiber, FiberId, Layer, type Scope } from "effect"

export interface OwnedFiber {
  readonly fiber: string
  readonly name: string
  readonly owner: string
  readonly startedAt: string
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
  /** Forks `self` into the caller's scope, listed under `name`/`owner` until it ends. */
  readonly fork: (name: string, owner: string) => <A, E, R>(
    self: Effect.Effect<A, E, R>
  ) => Effect.Effect<Fiber.RuntimeFiber<A, E>, never, R | Scope.Scope>
  /** For a fiber's own first step (a request fiber): lists `fiber` until the returned function
   * runs (its exit observer calls it). Synchronous: no finalizer per request. */
  readonly unsafeTrack: (fiber: Fiber.RuntimeFiber<unknown, unknown>, name: string, owner: string) => () => void
  readonly snapshot: Effect.Effect<ReadonlyArray<OwnedFiber>>
  readonly size: () => number
}>() {}

export const make = Effect.sync(() => {
  // Keyed by the fiber itself: its printed id (FiberId.threadName builds a HashSet of ids each
  // call, a tenth of a request's CPU on GET /healthz) is made only when the list is read.
  const entries = new Map<Fiber.RuntimeFiber<unknown, unknown>, Entry>()
  const unsafeTrack = (fiber: Fiber.RuntimeFiber<unknown, unknown>, name: string, owner: string) => {
    entries.set(fiber, { name, owner, startedAt: Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis() })
    return () => void entries.delete(fiber)
  }
  const track = (name: string, owner: string) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
    Effect.withFiberRuntime<A, E, R>((fiber) =>
      // Registration and its removal are installed together: no interrupt can fall between them.
      Effect.uninterruptibleMask((restore) => {
        const untrack = unsafeTrack(fiber, name, owner)
        return Effect.ensuring(restore(self), Effect.sync(untrack))
      })
    )
  return FiberRegistry.of({
    track,
    unsafeTrack,
    fork: (name, owner) => (self) => Effect.forkScoped(track(name, owner)(self)),
    snapshot: Effect.map(Clock.currentTimeMillis, (now) =>
      Array.from(entries, ([fiber, entry]) => ({
        fiber: FiberId.threadName(fiber.id()),
        name: entry.name,
        owner: entry.owner,
        startedAt: new Date(entry.startedAt).toISOString(),
        ageMs: now - entry.startedAt
      }))),
    size: () => entries.size
  })
})

export const layer = Layer.effect(FiberRegistry, make)
