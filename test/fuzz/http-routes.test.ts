// Fuzz: hostile bytes at every public and admin route over raw TCP (issue 16). Whatever a client
// sends, the answer is < 500 (except the listed 503s), nothing is logged at error, the bystander
// WebSocket stays open, /healthz still answers and the process exits 0 at the end.
// Reproduce a failure with the seed it prints: FUZZ_SEED=<seed> npx vitest run test/fuzz/http-routes.test.ts
import fc from "fast-check"
import { existsSync } from "node:fs"
import { describe, it } from "vitest"
import { printable, startHostileService } from "../support/HostileService.js"
import { exchange, type ParsedResponse } from "../support/RawExchange.js"
import { ADMIN_PATHS, type HostileRequest, hostileRequest, PUBLIC_PATHS } from "./hostileHttp.js"
import { stopReport } from "./stopReport.js"

const SEED = Number(process.env.FUZZ_SEED ?? 16_001)
const RUNS = Number(process.env.FUZZ_RUNS ?? 1_000)
const TIME_LIMIT_MS = 10_000

const errorTag = (response: ParsedResponse) => {
  try {
    const parsed: unknown = JSON.parse(response.body)
    return typeof parsed === "object" && parsed !== null ? String((parsed as Record<string, unknown>).error ?? (parsed as Record<string, unknown>).status) : ""
  } catch {
    return response.body.slice(0, 40)
  }
}

/** `new URL`, not `URL.canParse`: Node 20's optimized canParse misreads Latin-1 (see RequestTarget.test). */
const parsesAsUrl = (target: string) => {
  try {
    new URL(target, "http://fuzz")
    return true
  } catch {
    return false
  }
}

/** Which route a target aims at, so one class of failure per route is reported. */
const routeOf = (request: HostileRequest) => {
  if (!parsesAsUrl(request.target)) return "a target new URL() rejects"
  const path = request.target.replace(/^[a-z]+:\/\/[^/]*/i, "")
  const known = [...PUBLIC_PATHS, ...ADMIN_PATHS].filter((p) => p !== "/").find((p) => path === p || path.startsWith(`${p}?`) || path.startsWith(`${p}/`))
  return `${request.method} ${known ?? (path.startsWith("/") && !path.startsWith("//") ? "/<other>" : "<odd target>")}`
}

/** The only 5xx a client may see here, each for a reason of the service, not of its input. */
const ALLOWED_5XX: ReadonlyArray<{ readonly why: string; readonly allows: (request: HostileRequest, response: ParsedResponse) => boolean }> = [
  {
    why: "GET /upstream: UPSTREAM_URL is not set in this run (503 UpstreamNotConfigured)",
    allows: (request, response) =>
      response.status === 503 && request.port === "public" && request.target.includes("/upstream") &&
      (errorTag(response) === "UpstreamNotConfigured" || request.method === "HEAD")
  },
  {
    why: "GET /readyz while draining (503 draining): only once the final shutdown began",
    allows: (request, response) => response.status === 503 && request.target.includes("/readyz") && errorTag(response) === "draining"
  }
]

describe("fuzz: hostile HTTP requests at every route", () => {
  it("no 5xx, no error log, bystander untouched, /healthz 200, exit 0", async () => {
    // The bystander is a WebSocket session; without the WebSocket feature (README, "Make it
    // yours") there is none, and the final /healthz is the well-behaved client.
    const hostile = await startHostileService({ WS_MAX_MESSAGE_BYTES: "65536" }, { bystander: existsSync("src/websocket") })
    const ports = { public: hostile.service.port, admin: hostile.service.adminPort }
    let unanswered = 0
    const property = fc.asyncProperty(hostileRequest, async (request) => {
      hostile.assertAlive("the previous request")
      const result = await exchange(ports[request.port], request.bytes, {
        headRequest: request.method === "HEAD",
        expect: request.responses,
        finAtOnce: request.finAtOnce
      })
      const shown = `${request.port}${request.finAtOnce ? " (then FIN)" : ""} ${printable(request.bytes)}`
      for (const response of result.responses) {
        if (response.status < 500 || ALLOWED_5XX.some((allowed) => allowed.allows(request, response))) continue
        hostile.violate(`${request.port} ${response.status} ${errorTag(response)} on ${routeOf(request)}`, `${shown}\n    -> ${response.status} ${response.body.slice(0, 200)}`)
      }
      if (result.ending === "timeout" && result.responses.length === 0 && !request.finAtOnce) {
        unanswered += 1
        hostile.violate(`no answer and no close on ${routeOf(request)}`, `${shown}\n    -> silence for 1 s, then 1 s more after our FIN`)
      }
      hostile.blameNewLogLines(shown)
      if (hostile.shuttingDown()) throw new Error(`the service began shutting down after ${shown}`)
    })
    const details = await fc.check(property, { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS, endOnFailure: true })
    console.log(`[fuzz] http-routes seed=${SEED} runs=${details.numRuns}/${RUNS} unanswered=${unanswered}${details.interrupted ? " (time limit)" : ""}`)
    if (details.failed) hostile.violate("run stopped", stopReport(details))
    await hostile.finish({ stop: "admin" })
  }, 40_000)
})
