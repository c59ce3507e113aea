// Redis for the broadcast tests: the shared one (127.0.0.1:6379, probed once) or a redis-server
// of the test's own on a spare port, which the test may stop and start again, killed when the
// test ends. Without them the tests skip and say why; REQUIRE_SERVICES=1 turns that into a failure.
import { type ChildProcess, spawn } from "node:child_process"
import * as Net from "node:net"
import { Redis } from "ioredis"
import { onTestFinished } from "vitest"

export const SHARED_REDIS = { host: "127.0.0.1", port: 6379 }

/** undefined when something answers PING at host:port, else why not. */
export const ping = (port: number, host = "127.0.0.1", timeoutMs = 1_000): Promise<string | undefined> =>
  new Promise((resolve) => {
    const socket = Net.connect(port, host)
    const done = (problem: string | undefined) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(problem)
    }
    const timer = setTimeout(() => done(`no answer within ${timeoutMs} ms`), timeoutMs)
    let answer = ""
    socket.setEncoding("utf8")
    socket.on("connect", () => socket.write("PING\r\n"))
    socket.on("data", (chunk: string) => {
      answer += chunk
      if (answer.includes("\r\n")) done(answer.startsWith("+PONG") ? undefined : `answered ${JSON.stringify(answer.trim())}`)
    })
    socket.on("error", (error) => done(error.message))
  })

/** Says why a test skips, or fails when REQUIRE_SERVICES=1. Returns true when it may run. */
export const requireOrSkip = (what: string, problem: string | undefined): boolean => {
  if (problem === undefined) return true
  const message = `${what} (${problem}): the Redis broadcast tests using it are SKIPPED.`
  if (process.env.REQUIRE_SERVICES === "1") throw new Error(`REQUIRE_SERVICES=1: ${message}`)
  console.warn(`\n*** ${message}\n`)
  return false
}

export const sharedRedisProblem = async (): Promise<string | undefined> => {
  const problem = await ping(SHARED_REDIS.port, SHARED_REDIS.host)
  return problem === undefined ? undefined : `Redis is not reachable at ${SHARED_REDIS.host}:${SHARED_REDIS.port}: ${problem}`
}

export const redisServerProblem = (): Promise<string | undefined> =>
  new Promise((resolve) => {
    const child = spawn("redis-server", ["--version"], { stdio: "ignore" })
    child.once("error", (error) => resolve(`redis-server cannot be run: ${error.message}`))
    child.once("exit", (code) => resolve(code === 0 ? undefined : `redis-server --version exited ${code}`))
  })

const sparePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export interface OwnRedis {
  readonly port: number
  readonly url: URL
  /** Stops the server (SIGKILL: a Redis that vanishes) and waits for it to exit. */
  readonly stop: () => Promise<void>
  /** Starts it again on the same port and waits until it answers PING. */
  readonly start: () => Promise<void>
  /** SIGSTOP / SIGCONT: a Redis that holds its connections open and answers nothing. */
  readonly freeze: () => void
  readonly thaw: () => void
  /** CLIENT LIST's `name=` fields (this query's own connection has none). */
  readonly clientNames: () => Promise<Array<string>>
}

/** A redis-server of this test's own on a spare port, no persistence; killed when the test ends. */
export const startOwnRedis = async (): Promise<OwnRedis> => {
  const port = await sparePort()
  let child: ChildProcess | undefined
  const kill = () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  }
  onTestFinished(kill)
  const start = async () => {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: "ignore"
    })
    child.once("error", () => undefined)
    const deadline = Date.now() + 10_000
    while ((await ping(port)) !== undefined) {
      if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not answer PING within 10 s`)
      await sleep(50)
    }
  }
  const stop = async () => {
    const running = child
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return
    const exited = new Promise((resolve) => running.once("exit", resolve))
    running.kill("SIGKILL")
    await exited
  }
  const clientNames = async () => {
    const client = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    client.on("error", () => undefined)
    try {
      await client.connect()
      const list = String(await client.client("LIST"))
      return list.split("\n").map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1] ?? "").filter((name) => name !== "")
    } finally {
      client.disconnect()
    }
  }
  const freeze = () => void child?.kill("SIGSTOP")
  const thaw = () => void child?.kill("SIGCONT")
  await start()
  return { port, url: new URL(`redis://127.0.0.1:${port}`), stop, start, freeze, thaw, clientNames }
}
