// Adds listeners to an emitter (usually `process`) for the life of the current scope: the code
// that adds them is the code that removes them.
import { Effect } from "effect"

export const listenScoped = (
  emitter: NodeJS.EventEmitter,
  listeners: Readonly<Record<string, (...args: Array<any>) => void>>
) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      for (const [event, listener] of Object.entries(listeners)) emitter.on(event, listener)
    }),
    () =>
      Effect.sync(() => {
        for (const [event, listener] of Object.entries(listeners)) emitter.off(event, listener)
      })
  )
