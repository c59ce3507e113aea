// Broadcast across replicas over Redis (REDIS_URL): delivered once everywhere, in each publisher's
// order, local delivery through an outage (drops counted, link down/up logged), and the hub's Redis
// connections closed when its layer is released, after the sessions have gone. Real Redis: the
// shared one for the two-process tests, a redis-server of the test's own (stopped mid-run) for the
// others.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Redis } from "ioredis"
import { onTestFinished } from "vitest"
import * as Prometheus from "../../src/observability/Prometheus.js"
import * as RedisBroadcast from "../../src/websocket/RedisBroadcast.js"
import * as WebSocketFeature from "../../src/websocket/WebSocketFeature.js"
import { wsServed } from "./wsServed.js"
import { captureLogs, type CapturedLogs } from "../support/captureLogs.js"
import { leakCheck } from "../support/LeakCheck.js"
import { parsePrometheus, valueOf } from "../support/parsePrometheus.js"
import { startServing } from "../support/publicServer.js"
import { frame, Opcode, RawWebSocket } from "../support/RawWebSocket.js"
import { type Service, spawnService, waitFor } from "../support/spawnService.js"
import { redisServerProblem, requireOrSkip, SHARED_REDIS, sharedRedisProblem, startOwnRedis } from "./redisServer.js"
import { type Client, connect } from "./wsClients.js"

const sharedRedis = requireOrSkip(`Redis is needed at ${SHARED_REDIS.host}:${SHARED_REDIS.port}`, await sharedRedisProblem())
const ownRedis = requireOrSkip("redis-server is needed on PATH", await redisServerProblem())

const broadcast = (client: Client, data: unknown) => client.ws.send(JSON.stringify({ type: "broadcast", data }))

const dataOf = (message: unknown) => (message as { type?: string; data?: unknown }).data

/** How many frames `client` got whose data has this nonce and tag. */
const count = (client: Client, nonce: string, tag: string) =>
  client.messages.filter((message) => {
    const data = dataOf(message) as { nonce?: string; tag?: string } | undefined
    return data?.nonce === nonce && data.tag === tag
  }).length

/** Waits until `client` has a frame with this nonce and tag (polls its message list). */
const received = async (client: Client, nonce: string, tag: string, timeoutMs = 5_000) => {
  const deadline = Date.now() + timeoutMs
  while (count(client, nonce, tag) === 0) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for broadcast ${tag}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const scrape = async (service: Service) => (await fetch(`http://127.0.0.1:${service.adminPort}/metrics`)).text()


describe.skipIf(!sharedRedis)("broadcast across two replicas (processes, shared Redis)", () => {
  // Catches: a broadcast that stays in its process (B never gets it); a replica that delivers its
  // own message twice (locally and again from the channel: origin not ignored); a replica that
  // re-publishes what it received (a loop: duplicates everywhere); no drop counter at startup.
  it("a client on A broadcasts: B's client gets it once, A's own sessions get it once", async () => {
    const env = { REDIS_URL: `redis://${SHARED_REDIS.host}:${SHARED_REDIS.port}` }
    const [a, b] = await Promise.all([spawnService(env), spawnService(env)])
    for (const service of [a, b]) {
      await service.waitForLine((line) => line.message === "broadcast link up", 10_000)
      // Exported from the first scrape, at 0.
      expect(await scrape(service)).toMatch(/^ws_broadcast_dropped_total 0$/m)
    }
    const [a1, a2, b1] = await Promise.all([connect(a.port), connect(a.port), connect(b.port)])
    // Frames from anyone else on the shared channel carry no nonce of ours and are not counted.
    const nonce = crypto.randomUUID()
    broadcast(a1!, { nonce, tag: "m1" })
    await received(b1!, nonce, "m1")
    // Redis delivers in publish order: B's marker is published after A's m1 (B had received it),
    // so a second m1 on A (its own, from the channel) would reach A before B's marker; A's marker2
    // likewise comes after any echo of marker1 on B.
    broadcast(b1!, { nonce, tag: "marker1" })
    await received(a1!, nonce, "marker1")
    broadcast(a1!, { nonce, tag: "marker2" })
    for (const client of [a1!, a2!, b1!]) await received(client, nonce, "marker2")
    for (const client of [a1!, a2!, b1!]) {
      expect(count(client, nonce, "m1")).toBe(1)
      expect(count(client, nonce, "marker1")).toBe(1)
    }
    // The frame is exactly today's frame.
    expect(b1!.messages.find((message) => (dataOf(message) as { tag?: string })?.tag === "m1")).toEqual({
      type: "broadcast",
      data: { nonce, tag: "m1" }
    })
    for (const service of [a, b]) expect(valueOf(parsePrometheus(await scrape(service)), "ws_broadcast_dropped_total")).toBe(0)
  }, 90_000)

  // Catches: anything between the sender and the other replica's sessions that reorders (publishes
  // on several connections or without waiting their turn, a deliverer that hands frames over
  // concurrently, a local delivery that overtakes a queued one).
  it("a client on A sends 50 numbered broadcasts back to back: B's client gets them in order, once each", async () => {
    const env = { REDIS_URL: `redis://${SHARED_REDIS.host}:${SHARED_REDIS.port}` }
    const [a, b] = await Promise.all([spawnService(env), spawnService(env)])
    for (const service of [a, b]) await service.waitForLine((line) => line.message === "broadcast link up", 10_000)
    const [a1, a2, b1] = await Promise.all([connect(a.port), connect(a.port), connect(b.port)])
    const nonce = crypto.randomUUID()
    const N = 50
    for (let n = 0; n < N; n++) broadcast(a1!, { nonce, tag: "seq", n })
    broadcast(a1!, { nonce, tag: "last" })
    for (const client of [a1!, a2!, b1!]) await received(client, nonce, "last", 15_000)
    const numbers = (client: Client) =>
      client.messages
        .map((message) => dataOf(message) as { nonce?: string; tag?: string; n?: number } | undefined)
        .filter((data) => data?.nonce === nonce && data.tag === "seq")
        .map((data) => data!.n)
    const inOrder = Array.from({ length: N }, (_, n) => n)
    expect(numbers(b1!)).toEqual(inOrder)
    // A's own sessions too (delivered locally, once).
    expect(numbers(a1!)).toEqual(inOrder)
    expect(numbers(a2!)).toEqual(inOrder)
  }, 90_000)
})

const droppedTotal = Effect.map(Prometheus.scrape, (text) => valueOf(parsePrometheus(text), "ws_broadcast_dropped_total"))

const linesWith = (logs: CapturedLogs, message: string) => logs.lines.filter((line) => line.message === message)

const waitForCount = (logs: CapturedLogs, message: string, n: number, timeoutMs = 15_000) =>
  logs.waitForLine(() => linesWith(logs, message).length >= n, timeoutMs)

const promise = <A>(make: () => Promise<A>) => Effect.promise(make)

/** Our clients on `redis` once Redis has noticed the closes (up to 10 s), for the release tests. */
const clientsAfterClose = (redis: { readonly clientNames: () => Promise<ReadonlyArray<string>> }) =>
  Effect.gen(function*() {
    const deadline = Date.now() + 10_000
    let names = yield* promise(() => redis.clientNames())
    while (names.length > 0 && Date.now() < deadline) {
      yield* Effect.sleep("50 millis")
      names = yield* promise(() => redis.clientNames())
    }
    return names
  })

describe.skipIf(!ownRedis)("broadcast over a redis-server of the test's own (stopped, frozen, fed garbage)", () => {
  // Catches: a Redis link closed before the sessions have gone (released by a layer closed before
  // the public server's drain, or on the signal itself). The session's close handshake is held
  // open: the server sent 1001 and waits (up to 1 s) for our answer, so the session is still there;
  // Redis is asked, in the same tick as the 1001 arrives, which connections it has.
  it("on SIGTERM the Redis connections outlive the sessions: there while a 1001 goes unanswered, gone after", async () => {
    const redis = await startOwnRedis()
    const service = await spawnService({ REDIS_URL: redis.url.href })
    await service.waitForLine((line) => line.message === "broadcast link up", 10_000)
    // Connected before the signal, so asking takes one write and one answer.
    const probe = new Redis({ port: redis.port, host: "127.0.0.1", maxRetriesPerRequest: 0 })
    probe.on("error", () => undefined)
    onTestFinished(() => void probe.disconnect())
    const names = async () =>
      String(await probe.client("LIST")).split("\n").map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1] ?? "").filter((name) => name !== "").sort()
    const serviceName = RedisBroadcast.CHANNEL.split(":")[0]
    const link = [`${serviceName}-ws-publisher`, `${serviceName}-ws-subscriber`]
    expect(await names()).toEqual(link)
    const raw = await RawWebSocket.open(service.port)
    onTestFinished(() => raw.destroy())

    service.signal("SIGTERM")
    expect(await raw.until(() => raw.closeCode !== undefined, 15_000)).toBe(true)
    const whileSessionOpen = await names()
    raw.send(frame(Opcode.Close, Buffer.from([0x03, 0xe9])))
    const exited = await waitFor(service.exited, 15_000, "the service's exit")
    const cut = service.lines.some((line) => line.message === "ws peers did not answer going-away; cutting them")
    expect(raw.closeCode).toBe(1001)
    expect(whileSessionOpen, `CLIENT LIST while the session's 1001 was unanswered${cut ? " (the service cut the session after 1 s: this machine answered late)" : ""}`).toEqual(link)
    expect(exited.code).toBe(0)
    // Gone once the session has (Redis may take a moment to notice the close).
    const deadline = Date.now() + 10_000
    let after = await names()
    while (after.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      after = await names()
    }
    expect(after).toEqual([])
  }, 90_000)

  // Catches: local delivery that depends on Redis (an offline queue, or awaiting the publish);
  // publishes queued while down and sent after (no at-most-once: B would get "while-down");
  // no drop counter; no down/up log lines, or one per reconnect attempt instead of one per
  // outage; a subscriber that does not resubscribe after the reconnect (B never gets "after").
  it.live("local broadcast goes on, drops are counted, the link goes down and comes back", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const redis = yield* promise(() => startOwnRedis())
      const config = { REDIS_URL: redis.url.href }
      const a = yield* startServing({ features: WebSocketFeature.layer, api: wsServed, config })
      const b = yield* startServing({ features: WebSocketFeature.layer, api: wsServed, config })
      yield* waitForCount(logs, "broadcast link up", 2)
      const [a1, a2, b1] = yield* promise(() => Promise.all([connect(a.port), connect(a.port), connect(b.port)]))
      const nonce = crypto.randomUUID()
      broadcast(a1!, { nonce, tag: "before" })
      yield* promise(() => received(b1!, nonce, "before"))

      const droppedBefore = yield* droppedTotal
      yield* promise(() => redis.stop())
      yield* waitForCount(logs, "broadcast link down", 2)
      broadcast(a1!, { nonce, tag: "while-down" })
      yield* promise(() => Promise.all([received(a1!, nonce, "while-down"), received(a2!, nonce, "while-down")]))
      // The publish failed at once (no offline queue) and was counted.
      const deadline = Date.now() + 5_000
      while ((yield* droppedTotal) <= droppedBefore && Date.now() < deadline) yield* Effect.sleep("20 millis")
      expect(yield* droppedTotal).toBeGreaterThan(droppedBefore)

      yield* promise(() => redis.start())
      yield* waitForCount(logs, "broadcast link up", 4)
      broadcast(a1!, { nonce, tag: "after" })
      yield* promise(() => received(b1!, nonce, "after"))
      // Dropped, not queued: B's next frame after "before" is "after".
      expect(b1!.messages.map((message) => (dataOf(message) as { tag?: string }).tag)).toEqual(["before", "after"])
      expect(count(a1!, nonce, "after") + count(a2!, nonce, "after")).toBe(2)

      // Once per outage per hub, however many reconnect attempts failed meanwhile.
      const down = linesWith(logs, "broadcast link down")
      expect(down).toHaveLength(2)
      for (const line of down) {
        expect(line.level).toBe("warn")
        expect(typeof line.error).toBe("string")
      }
      expect(linesWith(logs, "broadcast link up").every((line) => line.level === "info")).toBe(true)
      // The URL is never logged.
      expect(JSON.stringify(logs.lines)).not.toContain("redis://")
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  }, 180_000)

  // Catches: a hub that leaves its Redis connections open when released (sockets, and ioredis
  // reconnect timers or listeners keeping the process alive), or a deliverer fiber left running.
  it.live("the hub's Redis connections are closed and its fibers ended when its layer is released", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const redis = yield* promise(() => startOwnRedis())
      yield* leakCheck(Effect.gen(function*() {
        const { port } = yield* startServing({ features: WebSocketFeature.layer, api: wsServed, config: { REDIS_URL: redis.url.href } })
        yield* waitForCount(logs, "broadcast link up", 1)
        const client = yield* promise(() => connect(port))
        broadcast(client, "hello")
        expect(yield* promise(() => client.next(3_000))).toEqual({ type: "broadcast", data: "hello" })
        // Named after the service, as the channel is: a rename (README "Make it yours") changes both.
        const service = RedisBroadcast.CHANNEL.split(":")[0]
        expect((yield* promise(() => redis.clientNames())).sort()).toEqual([`${service}-ws-publisher`, `${service}-ws-subscriber`])
      }))
      // Released: Redis sees none of our connections (it may take a moment to notice a close).
      expect(yield* clientsAfterClose(redis)).toEqual([])
    }).pipe(Effect.provide(logs.layer))
  }, 90_000)

  // Catches: a release that waits on a Redis that holds the connection open and answers nothing
  // (QUIT never answered: an unbounded quit would hang the shutdown until the deadline).
  it.live("release is bounded when Redis answers nothing: QUIT, then disconnect after ~1 s", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const redis = yield* promise(() => startOwnRedis())
      const started = Date.now()
      yield* leakCheck(Effect.gen(function*() {
        yield* startServing({ features: WebSocketFeature.layer, api: wsServed, config: { REDIS_URL: redis.url.href } })
        yield* waitForCount(logs, "broadcast link up", 1)
        redis.freeze()
      }))
      const releasedAfter = Date.now() - started
      redis.thaw()
      expect(releasedAfter).toBeLessThan(5_000)
      expect(yield* clientsAfterClose(redis)).toEqual([])
    }).pipe(Effect.provide(logs.layer))
  }, 90_000)

  // Catches: a hub that hands whatever arrives on the channel to its sessions (garbage frames), or
  // that throws on it; invalid envelopes are ignored, logged at warn (rate-limited) and counted.
  it.live("invalid envelopes on the channel are ignored and logged; another replica's are delivered", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const redis = yield* promise(() => startOwnRedis())
      const { port } = yield* startServing({ features: WebSocketFeature.layer, api: wsServed, config: { REDIS_URL: redis.url.href } })
      yield* waitForCount(logs, "broadcast link up", 1)
      const client = yield* promise(() => connect(port))
      const publisher = yield* Effect.acquireRelease(
        Effect.sync(() => new Redis({ port: redis.port, host: "127.0.0.1", maxRetriesPerRequest: 0 })),
        (redis) => Effect.sync(() => redis.disconnect())
      )
      publisher.on("error", () => undefined)
      const frame = JSON.stringify({ type: "broadcast", data: "from another replica" })
      for (const message of ["{not json", JSON.stringify({ origin: 1, text: frame }), JSON.stringify({ origin: "x" }), "null"]) {
        yield* promise(() => publisher.publish(RedisBroadcast.CHANNEL, message))
      }
      yield* promise(() => publisher.publish(RedisBroadcast.CHANNEL, JSON.stringify({ origin: "another-replica", text: frame })))
      expect(yield* promise(() => client.next(5_000))).toEqual({ type: "broadcast", data: "from another replica" })
      expect(client.messages).toHaveLength(1)
      yield* waitForCount(logs, "invalid broadcast envelope ignored", 4)
      for (const line of linesWith(logs, "invalid broadcast envelope ignored")) {
        expect(line.level).toBe("warn")
        expect(line.kind).toBe("broadcast envelope")
      }
      const errors = valueOf(parsePrometheus(yield* Prometheus.scrape), "client_errors_total", { kind: "broadcast envelope" })
      expect(errors).toBeGreaterThanOrEqual(4)
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  }, 90_000)

  // Catches: a startup that fails, or waits for Redis, when Redis is unreachable; a release that
  // waits on a Redis that never answers.
  it.live("a Redis unreachable at startup does not stop startup; the link comes up once it is there", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const redis = yield* promise(() => startOwnRedis())
      yield* promise(() => redis.stop())
      const a = yield* startServing({ features: WebSocketFeature.layer, api: wsServed, config: { REDIS_URL: redis.url.href } })
      yield* waitForCount(logs, "broadcast link down", 1)
      const a1 = yield* promise(() => connect(a.port))
      broadcast(a1, "local")
      expect(yield* promise(() => a1.next(3_000))).toEqual({ type: "broadcast", data: "local" })
      yield* promise(() => redis.start())
      yield* waitForCount(logs, "broadcast link up", 1)
      const b = yield* startServing({ features: WebSocketFeature.layer, api: wsServed, config: { REDIS_URL: redis.url.href } })
      yield* waitForCount(logs, "broadcast link up", 2)
      const b1 = yield* promise(() => connect(b.port))
      broadcast(a1, "across")
      expect(yield* promise(() => waitFor(b1.next(5_000), 6_000, "across"))).toEqual({ type: "broadcast", data: "across" })
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  }, 90_000)
})
