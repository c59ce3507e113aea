// Go:
//   ch := make(chan int, 8)
//   go func() { defer close(ch); for _, v := range items { ch <- v } }() // only the sender closes, once
//   for v := range ch { use(v) }   // ends when ch is closed and drained
//   v, ok := <-ch                  // ok == false: closed and empty
// Effect: the producer owns the channel and ends it once; consumers see the end of a Stream and
// never close. `Queue.shutdown` ends it at once (buffered values are dropped, takers are
// interrupted); `Mailbox.end` is Go's close (consumers drain first); a `Deferred` completes once.
import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Deferred, Effect, Exit, Fiber, Mailbox, Option, Queue, Stream } from "effect"
import { leakCheck } from "../support/LeakCheck.js"

describe("channel close -> the producer ends a Queue / Mailbox / Deferred once", { timeout: 10_000 }, () => {
  it.effect("range over a channel: the producer ends the Mailbox; the consumer's stream drains it, then ends", () =>
    leakCheck(Effect.gen(function*() {
      const mailbox = yield* Mailbox.make<number>(8)
      const producer = yield* Effect.fork(Effect.gen(function*() {
        for (const v of [1, 2, 3]) yield* mailbox.offer(v)
        yield* mailbox.end // close(ch)
      }))
      const received = yield* Stream.runCollect(Mailbox.toStream(mailbox))
      expect(Chunk.toArray(received)).toEqual([1, 2, 3])
      yield* Fiber.join(producer)
      // Sending on a closed channel panics in Go; here the offer is refused.
      expect(yield* mailbox.offer(4)).toBe(false)
    })))

  it.effect("v, ok := <-ch: a take on an ended, drained Mailbox fails with NoSuchElementException (ok == false)", () =>
    Effect.gen(function*() {
      const mailbox = yield* Mailbox.make<number>()
      yield* mailbox.offer(1)
      yield* mailbox.end
      expect(yield* mailbox.take).toBe(1) // still delivered after the end, like a buffered channel
      const closed = yield* Effect.exit(mailbox.take)
      expect(Exit.isFailure(closed) && Cause.isNoSuchElementException(Cause.squash(closed.cause))).toBe(true)
    }))

  it.effect("select with default: Queue.poll returns None on an empty queue instead of blocking", () =>
    Effect.gen(function*() {
      const queue = yield* Queue.bounded<number>(8)
      expect(yield* Queue.poll(queue)).toEqual(Option.none())
      yield* Queue.offer(queue, 7)
      expect(yield* Queue.poll(queue)).toEqual(Option.some(7))
    }))

  it.effect("Queue.shutdown ends a consumer blocked on the queue: its Stream.fromQueue ends", () =>
    leakCheck(Effect.gen(function*() {
      const queue = yield* Queue.unbounded<number>()
      const gotFirst = yield* Deferred.make<void>()
      const consumer = yield* Stream.fromQueue(queue).pipe(
        Stream.tap(() => Deferred.succeed(gotFirst, undefined)),
        Stream.runCollect,
        Effect.fork
      )
      yield* Queue.offer(queue, 1)
      yield* Deferred.await(gotFirst) // the consumer has 1 and is waiting for more
      yield* Queue.shutdown(queue)
      expect(Chunk.toArray(yield* Fiber.join(consumer))).toEqual([1])
    })))

  it.effect("Queue.shutdown is not Go's close: unread values are dropped and a take is interrupted", () =>
    Effect.gen(function*() {
      const queue = yield* Queue.bounded<number>(8)
      yield* Queue.offerAll(queue, [1, 2, 3])
      yield* Queue.shutdown(queue)
      expect(Chunk.toArray(yield* Stream.runCollect(Stream.fromQueue(queue)))).toEqual([])
      expect(Exit.isInterrupted(yield* Effect.exit(Queue.take(queue)))).toBe(true)
    }))

  it.effect("a Deferred completes once: the second succeed returns false and the first value stays", () =>
    Effect.gen(function*() {
      const done = yield* Deferred.make<string>()
      expect(yield* Deferred.succeed(done, "first")).toBe(true)
      expect(yield* Deferred.succeed(done, "second")).toBe(false)
      expect(yield* Deferred.await(done)).toBe("first")
    }))
})
