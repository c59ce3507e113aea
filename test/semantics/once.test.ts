// Go:
//   var once sync.Once
//   var conn *Conn
//   getConn := func() *Conn { once.Do(func() { conn = dial() }); return conn }
//   for i := 0; i < 10; i++ { go getConn() } // dial runs once; every caller waits for it
// Effect: `Effect.once` runs an effect at most once, but unlike sync.Once the other callers do not
// wait for that run. `Effect.cached` is the sync.Once + value: one run, every caller waits for
// it and gets its result (a failure is memoised too, as a panicking Do is not retried).
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option, Ref } from "effect"
import { leakCheck } from "../support/LeakCheck.js"

describe("sync.Once -> Effect.once / Effect.cached", { timeout: 10_000 }, () => {
  it.effect("Effect.once runs its effect once even when ten fibers call it at the same time", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const init = yield* Effect.once(Ref.update(runs, (n) => n + 1))
      yield* Effect.all(Array.from({ length: 10 }, () => init), { concurrency: "unbounded" })
      expect(yield* Ref.get(runs)).toBe(1)
    }))

  it.effect("unlike sync.Once, Effect.once does not make later callers wait for the first run", () =>
    leakCheck(Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const running = yield* Deferred.make<void>()
      const finish = yield* Deferred.make<void>()
      const init = yield* Effect.once(Effect.gen(function*() {
        yield* Ref.update(runs, (n) => n + 1)
        yield* Deferred.succeed(running, undefined)
        yield* Deferred.await(finish)
      }))
      const first = yield* Effect.fork(init)
      yield* Deferred.await(running)
      yield* init // returns at once although the first run has not finished
      expect(Option.isNone(yield* Fiber.poll(first))).toBe(true)
      yield* Deferred.succeed(finish, undefined)
      yield* Fiber.join(first)
      expect(yield* Ref.get(runs)).toBe(1)
    })))

  it.effect("Effect.cached: one run, every concurrent caller waits for it and gets its value", () =>
    leakCheck(Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const running = yield* Deferred.make<void>()
      const finish = yield* Deferred.make<void>()
      const getConn = yield* Effect.cached(Effect.gen(function*() {
        const n = yield* Ref.updateAndGet(runs, (n) => n + 1)
        yield* Deferred.succeed(running, undefined)
        yield* Deferred.await(finish)
        return `conn #${n}`
      }))
      const callers = yield* Effect.fork(Effect.all(Array.from({ length: 5 }, () => getConn), { concurrency: "unbounded" }))
      yield* Deferred.await(running)
      expect(Option.isNone(yield* Fiber.poll(callers))).toBe(true)
      yield* Deferred.succeed(finish, undefined)
      expect(yield* Fiber.join(callers)).toEqual(Array(5).fill("conn #1"))
      expect(yield* getConn).toBe("conn #1")
      expect(yield* Ref.get(runs)).toBe(1)
    })))

  it.effect("Effect.cached memoises a failure too: the failing effect is not run again", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const getConn = yield* Effect.cached(Ref.update(runs, (n) => n + 1).pipe(Effect.zipRight(Effect.fail("dial refused"))))
      expect(yield* Effect.exit(getConn)).toEqual(Exit.fail("dial refused"))
      expect(yield* Effect.exit(getConn)).toEqual(Exit.fail("dial refused"))
      expect(yield* Ref.get(runs)).toBe(1)
    }))
})
