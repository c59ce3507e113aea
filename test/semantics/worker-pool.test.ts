// Go:
//   jobs := make(chan Job, 100)
//   for w := 0; w < 4; w++ { go func() { for j := range jobs { run(j) } }() }
//   select { case jobs <- j: w.WriteHeader(202) // queued
//   default: w.WriteHeader(429) }               // full: refuse instead of a goroutine per request
// Effect: a bounded `Queue` and a fixed number of worker fibers forked into the caller's scope.
// At most N jobs run at once; a full queue is a decision point (a `Queue.dropping` offer returns
// false -> 429); shutting the queue down stops the workers blocked on it (and drops what was
// still queued: see channel-close.test.ts).
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Option, Queue, Ref, TestClock } from "effect"
import { leakCheck } from "../support/LeakCheck.js"

describe("worker pool -> bounded Queue + fixed worker fibers", { timeout: 10_000 }, () => {
  it.effect("two workers run at most two jobs at once, and all the jobs get done", () =>
    leakCheck(Effect.gen(function*() {
      const running = yield* Ref.make(0)
      const maxRunning = yield* Ref.make(0)
      const done = yield* Ref.make(0)
      const run = (seconds: number) =>
        Ref.updateAndGet(running, (n) => n + 1).pipe(
          Effect.flatMap((now) => Ref.update(maxRunning, (max) => Math.max(max, now))),
          Effect.zipRight(Effect.sleep(`${seconds} seconds`)),
          Effect.zipRight(Ref.update(running, (n) => n - 1)),
          Effect.zipRight(Ref.update(done, (n) => n + 1))
        )
      const jobs = yield* Queue.bounded<number>(10)
      for (let worker = 0; worker < 2; worker++) {
        yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(jobs), run)))
      }
      yield* Queue.offerAll(jobs, [1, 1, 1, 1, 1, 1])
      yield* TestClock.adjust("2 seconds")
      expect(yield* Ref.get(done)).toBe(4) // two at a time: 2 s of work for 2 workers is 4 jobs
      yield* TestClock.adjust("1 second")
      expect(yield* Ref.get(done)).toBe(6)
      expect(yield* Ref.get(maxRunning)).toBe(2)
    })))

  it.effect("a full dropping queue refuses the offer: the 429 decision point", () =>
    Effect.gen(function*() {
      const jobs = yield* Queue.dropping<string>(2)
      const accept = (job: string) => Queue.offer(jobs, job).pipe(Effect.map((queued) => queued ? 202 : 429))
      expect(yield* Effect.all([accept("a"), accept("b"), accept("c")])).toEqual([202, 202, 429])
      expect(yield* Queue.size(jobs)).toBe(2)
      expect(Chunk.toArray(yield* Queue.takeAll(jobs))).toEqual(["a", "b"]) // "c" was never queued
    }))

  it.effect("contrast: offer on a full bounded queue suspends the caller (backpressure, no answer)", () =>
    leakCheck(Effect.gen(function*() {
      const jobs = yield* Queue.bounded<string>(1)
      yield* Queue.offer(jobs, "a")
      const blocked = yield* Effect.fork(Queue.offer(jobs, "b").pipe(Effect.timeoutOption("1 second")))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(blocked)).toEqual(Option.none())
      expect(yield* Queue.isFull(jobs)).toBe(true) // what a handler checks before a bounded offer
    })))

  it.effect("shutting the queue down stops the workers waiting on it", () =>
    leakCheck(Effect.gen(function*() {
      const jobs = yield* Queue.bounded<number>(10)
      const workers = yield* Effect.forEach([1, 2], () => Effect.fork(Effect.forever(Queue.take(jobs))))
      yield* Queue.shutdown(jobs)
      for (const worker of workers) {
        expect(Exit.isInterrupted(yield* Fiber.await(worker))).toBe(true)
      }
    })))
})
