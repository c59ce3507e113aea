// Adds listeners to an emitter (usually `process`) for the life of the current scope: the code
// that adds them is the code that removes them. Each listener goes through NodeEdge.guard: a
// throw inside a process-level listener (a signal, an uncaught exception) is logged at warn and
// goes no further; thrown from `uncaughtException` it would end the process at once.
import { Effect } from "effect"
import * as NodeEdge from "./NodeEdge.js"
import * as ScopeFinalizer from "./ScopeFinalizer.js"

export const listenScoped = (
  emitter: NodeJS.EventEmitter,
  listeners: Readonly<Record<string, (...args: Array<any>) => void>>
) =>
  Effect.gen(function*() {
    const edge = yield* NodeEdge.make
    const guarded = Object.entries(listeners).map(([event, listener]) =>
      [event, edge.guard(`process ${event} listener`, listener)] as const
    )
    yield* ScopeFinalizer.acquireRelease(
      Effect.sync(() => {
        for (const [event, listener] of guarded) emitter.on(event, listener)
      }),
      () =>
        Effect.sync(() => {
          for (const [event, listener] of guarded) emitter.off(event, listener)
        })
    )
  })
