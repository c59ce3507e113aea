// Clients for the jobs routes of real services (node dist/main.js): submit many jobs with a
// bound on concurrent requests, read a job from any replica, wait for conditions by polling a
// route (with a timeout, never a bare sleep), and count "job done" log lines per job across
// every run and replica of a test (the proof that no job was recorded done twice).
import type { Service } from "./spawnService.js"
import { parsePrometheus, valueOf } from "./parsePrometheus.js"

export interface Answer {
  readonly status: number
  readonly retryAfter: string | null
  readonly body: any
}

export interface JobView {
  readonly id: string
  readonly state: "queued" | "running" | "done" | "failed"
  readonly ms: number
  readonly payload: unknown
  readonly attempts: number
  readonly error?: string
}

const read = async (response: Response): Promise<Answer> => {
  const text = await response.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {
    // not JSON: kept as text so the assertion that fails shows it
  }
  return { status: response.status, retryAfter: response.headers.get("retry-after"), body }
}

export const postJob = async (port: number, job: { readonly ms: number; readonly payload?: unknown }): Promise<Answer> =>
  read(
    await fetch(`http://127.0.0.1:${port}/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(job)
    })
  )

export const getJob = async (port: number, id: string): Promise<Answer & { readonly body: JobView }> =>
  read(await fetch(`http://127.0.0.1:${port}/jobs/${encodeURIComponent(id)}`))

export const readyz = async (port: number): Promise<Answer> => read(await fetch(`http://127.0.0.1:${port}/readyz`))

/** Runs `f` over `items` with at most `concurrency` calls in flight; results keep the order. */
export const mapBounded = async <A, B>(
  items: ReadonlyArray<A>,
  concurrency: number,
  f: (item: A, index: number) => Promise<B>
): Promise<Array<B>> => {
  const results = new Array<B>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await f(items[index]!, index)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
  return results
}

/**
 * Submits `count` jobs `{ms, payload: {n}}` (n = 1..count; `ms` may depend on n), at most
 * `concurrency` at a time, round-robin over `ports` (one port: one replica). Every answer must be
 * 202: anything else throws with the answer, so a test sees the first refusal, not a count
 * mismatch later. Returns the ids in the order of n.
 */
export const submitJobs = async (
  ports: ReadonlyArray<number>,
  count: number,
  options: { readonly ms: number | ((n: number) => number); readonly concurrency: number }
): Promise<Array<string>> =>
  mapBounded(Array.from({ length: count }, (_, i) => i + 1), options.concurrency, async (n, index) => {
    const ms = typeof options.ms === "number" ? options.ms : options.ms(n)
    const answer = await postJob(ports[index % ports.length]!, { ms, payload: { n } })
    if (answer.status !== 202) throw new Error(`POST /jobs #${n} answered ${answer.status}: ${JSON.stringify(answer.body)}`)
    return String(answer.body.id)
  })

/** Polls `check` every `intervalMs` until it returns a value other than undefined. */
export const waitUntil = async <A>(
  what: string,
  check: () => Promise<A | undefined> | A | undefined,
  timeoutMs: number,
  intervalMs = 100
): Promise<A> => {
  const deadline = performance.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (error) {
      last = error
    }
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? "" : `; last error: ${String(last)}`}`)
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs)) // polling the condition, not synchronising on time
  }
}

/** Reads every id from `port` (at most `concurrency` GETs in flight). */
export const getJobs = (port: number, ids: ReadonlyArray<string>, concurrency = 16) =>
  mapBounded(ids, concurrency, (id) => getJob(port, id))

/** "job done" lines per jobId across every given service (all runs and replicas of a test). */
export const doneCounts = (services: ReadonlyArray<Service>): Map<string, number> => {
  const counts = new Map<string, number>()
  for (const service of services) {
    for (const line of service.lines) {
      if (line.message !== "job done") continue
      const id = String(line.jobId)
      counts.set(id, (counts.get(id) ?? 0) + 1)
    }
  }
  return counts
}

/** The ids logged "job done" more than once across the services, with their counts. */
export const doneTwice = (services: ReadonlyArray<Service>): Array<[string, number]> =>
  [...doneCounts(services)].filter(([, count]) => count > 1)

/** Waits until every id has a "job done" line in one of the services. On a timeout the error
 * names the ids without one and, read from the last service, what the store says of them. */
export const waitForDoneLines = (services: ReadonlyArray<Service>, ids: ReadonlyArray<string>, timeoutMs: number) =>
  waitUntil(
    `"job done" for all ${ids.length} jobs`,
    () => {
      const counts = doneCounts(services)
      return ids.every((id) => counts.has(id)) ? true : undefined
    },
    timeoutMs
  ).catch(async (error: Error) => {
    const counts = doneCounts(services)
    const missing = ids.filter((id) => !counts.has(id)).slice(0, 5)
    const last = services.at(-1)!
    const states = last.child.exitCode === null && last.child.signalCode === null
      ? JSON.stringify((await getJobs(last.port, missing).catch(() => [])).map((answer) => answer.body))
      : "(not read: the service has exited)"
    throw new Error(`${error.message}; ${ids.filter((id) => !counts.has(id)).length} without one, e.g. ${states}`)
  })

/** Waits until GET /jobs/:id on `port` answers `state` for every id. */
export const waitForStates = (
  port: number,
  ids: ReadonlyArray<string>,
  state: JobView["state"],
  timeoutMs: number
) => {
  let pending = [...ids]
  return waitUntil(
    `${ids.length} jobs ${state} on port ${port}`,
    async () => {
      const answers = await getJobs(port, pending)
      pending = pending.filter((_, i) => answers[i]!.status !== 200 || answers[i]!.body.state !== state)
      return pending.length === 0 ? true : undefined
    },
    timeoutMs,
    200
  ).catch((error: Error) => {
    throw new Error(`${error.message}; still not ${state}: ${pending.slice(0, 5).join(", ")} (${pending.length})`)
  })
}

/** One sample from the service's /metrics (0 when absent, as valueOf does). */
export const metric = async (service: Service, name: string, labels: Record<string, string> = {}) =>
  valueOf(parsePrometheus(await (await fetch(`http://127.0.0.1:${service.adminPort}/metrics`)).text()), name, labels)

/** Which store the service opened ("sqlite" | "postgres"), from its "job store opened" line. */
export const storeOpened = (service: Service): Promise<unknown> =>
  service.waitForLine((line) => line.message === "job store opened", 5_000).then(
    (line) => line.store,
    (error: Error) => {
      throw new Error(`no "job store opened" line (${error.message})`)
    }
  )
