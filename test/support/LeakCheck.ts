// Go's goleak for Effect: fails a test when fibers it started are still alive after it, naming
// each one by its label and its owner, so the failure says what to stop and who should stop it.
//
// A Supervisor is installed around the test's effect, so the check sees exactly the fibers this
// test started, directly or through a runtime captured inside it (request fibers, FiberSet
// runtimes), and nothing another test file runs in parallel. The test's own scope is closed
// inside the check, so fibers its scope owns have been interrupted before the check looks.
//
// Label and owner: the name and owner a FiberRegistry lists the fiber under (as /debug/fibers
// shows them); else its span for a label, and for an owner the fiber that forked it (with that
// fiber's label), or "no fiber" when it was started by a runtime (Runtime.runFork, a Node callback).
import { Context, Data, Effect, type Fiber, FiberId, Option, type Scope, Supervisor } from "effect"
import { FiberRegistry, type OwnedFiber } from "../../src/lifecycle/FiberRegistry.js"

export interface LeakedFiber {
  readonly fiber: string
  /** What it is: its FiberRegistry name, else its span, else "unlabelled". */
  readonly label: string
  /** Who started it: its FiberRegistry owner, else the fiber that forked it, else "no fiber". */
  readonly owner: string
  /** The span the fiber was in when it was last seen running, if any. */
  readonly span: string | undefined
}

export class FiberLeak extends Data.TaggedError("FiberLeak")<{ readonly fibers: ReadonlyArray<LeakedFiber> }> {
  override get message() {
    return `${this.fibers.length} fiber(s) outlived the test: ${
      this.fibers.map((fiber) => `${fiber.fiber} labelled "${fiber.label}", owned by ${fiber.owner}`).join("; ")
    }`
  }
}

type AnyFiber = Fiber.RuntimeFiber<unknown, unknown>

interface Start {
  readonly parent: AnyFiber | undefined
  /** The span the parent was in when it forked this fiber. */
  readonly forkedInSpan: string | undefined
  readonly context: Context.Context<never>
}

const spanName = (fiber: AnyFiber): string | undefined => fiber.currentSpan?._tag === "Span" ? fiber.currentSpan.name : undefined

/** Supervisor.track, plus who forked each fiber and from which span. */
class Tracker extends Supervisor.AbstractSupervisor<ReadonlyArray<AnyFiber>> {
  readonly started = new Map<AnyFiber, Start>()

  get value() {
    return Effect.sync(() => Array.from(this.started.keys()))
  }

  override onStart<A, E, R>(context: Context.Context<R>, _effect: Effect.Effect<A, E, R>, parent: Option.Option<Fiber.RuntimeFiber<any, any>>, fiber: Fiber.RuntimeFiber<A, E>) {
    const forker = Option.getOrUndefined(parent)
    this.started.set(fiber, {
      parent: forker,
      forkedInSpan: forker === undefined ? undefined : spanName(forker),
      context: context as Context.Context<never>
    })
  }

  override onEnd<A, E>(_exit: unknown, fiber: Fiber.RuntimeFiber<A, E>) {
    this.started.delete(fiber)
  }
}

/** Every fiber any FiberRegistry seen in the test lists, by fiber id. */
const registered = (tracker: Tracker, alive: ReadonlyArray<AnyFiber>) =>
  Effect.gen(function*() {
    const registries = new Set<Context.Tag.Service<typeof FiberRegistry>>()
    const contexts = alive.flatMap((fiber) => [fiber.currentContext, ...Option.toArray(Option.fromNullable(tracker.started.get(fiber)?.context))])
    for (const context of contexts) Option.map(Context.getOption(context, FiberRegistry), (registry) => registries.add(registry))
    const entries = new Map<string, OwnedFiber>()
    for (const registry of registries) for (const entry of yield* registry.snapshot) entries.set(entry.fiber, entry)
    return entries
  })

const describeFiber = (fiber: AnyFiber, tracker: Tracker, entries: ReadonlyMap<string, OwnedFiber>, test: FiberId.FiberId): LeakedFiber => {
  const id = FiberId.threadName(fiber.id())
  const span = spanName(fiber)
  const entry = entries.get(id)
  if (entry !== undefined) return { fiber: id, label: entry.name, owner: `"${entry.owner}"`, span }
  const start = tracker.started.get(fiber)
  const label = span ?? "unlabelled"
  if (start?.parent === undefined) return { fiber: id, label, owner: "no fiber (started by a runtime: Runtime.runFork or a Node callback)", span }
  const parentId = FiberId.threadName(start.parent.id())
  const parentEntry = entries.get(parentId)
  const where = parentEntry !== undefined
    ? ` ("${parentEntry.name}" of "${parentEntry.owner}")`
    : start.forkedInSpan !== undefined
    ? ` (in span "${start.forkedInSpan}")`
    : FiberId.threadName(test) === parentId
    ? " (the test itself)"
    : ""
  return { fiber: id, label, owner: `fiber ${parentId}${where}`, span }
}

/** A real macrotask turn (not the test clock): lets fibers that are ending right now end. */
const settle = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

export const leakCheck = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | FiberLeak, Exclude<R, Scope.Scope>> =>
  Effect.gen(function*() {
    const tracker = new Tracker()
    const test = yield* Effect.fiberId
    const exit = yield* Effect.exit(Effect.supervised(Effect.scoped(self), tracker))
    let alive = yield* tracker.value
    for (let turn = 0; turn < 20 && alive.length > 0; turn++) {
      yield* settle
      alive = yield* tracker.value
    }
    if (alive.length > 0) {
      // Leave no zombie behind for the next test: report the leak, then end it.
      const entries = yield* registered(tracker, alive)
      const leak = new FiberLeak({ fibers: alive.map((fiber) => describeFiber(fiber, tracker, entries, test)) })
      for (const fiber of alive) fiber.unsafeInterruptAsFork(FiberId.none)
      return yield* leak
    }
    return yield* exit
  })
