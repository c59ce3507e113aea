// Every route the service serves (found by asking the running service, see routes.ts) has a curl
// (or, for a WebSocket, a `node -e`) example in README.md on its default port, and every example
// of a served route works when run as written against the real service (ports rewritten).
// Examples of routes this build does not serve (a feature removed) are neither required nor run.
import { execFile } from "node:child_process"
import * as Path from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"
import { spawnService } from "../support/spawnService.js"
import { type Example, examples } from "./examples.js"
import { readReadme, root } from "./readme.js"
import { matches, pathLiterals, type Port, type Route, servedRoutes } from "./routes.js"

const run = promisify(execFile)

const name = (route: Route) => `${route.method === "WS" ? "WebSocket" : route.method} ${route.path} on the ${route.port} port`

const shows = (example: Example, route: Route) => example.port === route.port && example.method === route.method && matches(route.path, example.path)

/** The routes no example shows, by name. */
export const unshown = (routes: ReadonlyArray<Route>, shown: ReadonlyArray<Example>) =>
  routes.filter((route) => !shown.some((example) => shows(example, route))).map(name)

const DEFAULTS: Record<Port, string> = { public: "localhost:8080", admin: "localhost:9090" }

const onPorts = (word: string, ports: Record<Port, number>) =>
  word.replaceAll(DEFAULTS.public, `127.0.0.1:${ports.public}`).replaceAll(DEFAULTS.admin, `127.0.0.1:${ports.admin}`)

/** Runs an example as written (no shell: its words are the arguments); its HTTP status, or 0 for `node -e`. */
const runExample = async (example: Example, ports: Record<Port, number>): Promise<number> => {
  const [program, ...args] = example.words.map((word) => onPorts(word, ports))
  if (program === "node") {
    const { stdout } = await run(process.execPath, args, { cwd: root, timeout: 10_000 })
    expect(stdout, `README.md:${example.line} printed nothing`).not.toBe("")
    return 0
  }
  const { stdout } = await run(program!, [...args, "--max-time", "10", "-w", "\n%{http_code}"], { cwd: root, maxBuffer: 64 * 1024 * 1024 })
  return Number(stdout.slice(stdout.lastIndexOf("\n") + 1))
}

describe("README.md route examples", () => {
  it("each route the service serves has an example on its port, and each example of a served route works", async () => {
    const service = await spawnService()
    const ports = { public: service.port, admin: service.adminPort }
    const document = await fetch(`http://127.0.0.1:${service.port}/openapi.json`)
    const documented = document.ok ? Object.keys(((await document.json()) as { paths: object }).paths) : []
    const routes = await servedRoutes([...pathLiterals(Path.join(root, "src")), ...documented], ports)
    // The discovery found what every build serves: it is not vacuous.
    expect(routes).toEqual(expect.arrayContaining([
      { port: "public", method: "GET", path: "/healthz" },
      { port: "admin", method: "POST", path: "/admin/shutdown" },
      { port: "admin", method: "GET", path: "/metrics" }
    ]))
    const shown = examples(readReadme())
    expect(unshown(routes, shown)).toEqual([])

    const served = shown.filter((example) => routes.some((route) => shows(example, route)))
    const stops = (example: Example) => example.path === "/admin/shutdown"
    for (const example of [...served.filter((example) => !stops(example)), ...served.filter(stops)]) {
      const status = await runExample(example, ports)
      const route = routes.find((route) => shows(example, route))!
      // An unknown id is a fine example of a route with a parameter; a refused request is not.
      const refused = [400, 405, 413, 415].includes(status) || (status === 404 && route.path === example.path)
      expect(refused, `README.md:${example.line}: ${example.command} -> ${status}`).toBe(false)
    }
    expect((await service.exited).code).toBe(0)
  }, 120_000)

  it("names each route without an example (so it can fail)", () => {
    const routes: ReadonlyArray<Route> = [
      { port: "public", method: "GET", path: "/jobs/:id" },
      { port: "public", method: "WS", path: "/ws" },
      { port: "admin", method: "GET", path: "/metrics" },
      { port: "admin", method: "POST", path: "/admin/shutdown" }
    ]
    const shown = examples([
      "```sh",
      "curl -s localhost:8080/jobs/1234   # an id",
      "curl -s localhost:8080/metrics     # the wrong port",
      "curl -s localhost:9090/admin/shutdown",
      "```"
    ].join("\n"))
    expect(unshown(routes, shown)).toEqual(["WebSocket /ws on the public port", "GET /metrics on the admin port", "POST /admin/shutdown on the admin port"])
  })
})
