// The routes a running service serves, found without a hand-kept list: every path literal in src/
// (and every path of the served OpenAPI document) is asked with OPTIONS on both ports, which both
// servers answer 204 with `Allow` for a path they serve and 404 otherwise; a path neither serves
// is offered a WebSocket upgrade on the public port (101: an upgrade route such as /ws).
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Path from "node:path"

export type Port = "public" | "admin"

export interface Route {
  readonly port: Port
  /** An HTTP method, or "WS" for an upgrade route. */
  readonly method: string
  /** As written in the code: `/jobs/:id`. */
  readonly path: string
}

export const pathLiterals = (srcRoot: string): ReadonlyArray<string> => {
  const found = new Set<string>()
  const walk = (folder: string) => {
    for (const entry of Fs.readdirSync(folder, { withFileTypes: true })) {
      const file = Path.join(folder, entry.name)
      if (entry.isDirectory()) walk(file)
      else if (file.endsWith(".ts")) {
        for (const match of Fs.readFileSync(file, "utf8").matchAll(/["'`](\/[A-Za-z0-9_.:{}-][A-Za-z0-9_./:{}-]*)["'`]/g)) found.add(match[1]!)
      }
    }
  }
  walk(srcRoot)
  return [...found]
}

/** A concrete path for a template: each `:param` or `{param}` segment becomes `x`. */
export const concrete = (template: string) => template.replace(/:[^/]+|\{[^}]+\}/g, "x")

/** Whether a concrete request path is an instance of a template. */
export const matches = (template: string, path: string) =>
  new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/:[^/]+|\{[^}]+\}/g, "[^/]+")}$`).test(path)

const request = (port: number, method: string, path: string, headers: Http.OutgoingHttpHeaders = {}) =>
  new Promise<{ readonly status: number; readonly allow: string | undefined; readonly upgraded: boolean }>((resolve, reject) => {
    const req = Http.request({ host: "127.0.0.1", port, method, path, headers, agent: false, timeout: 10_000 })
    req.on("response", (response) => {
      response.resume()
      const allow = response.headers.allow
      response.on("end", () => resolve({ status: response.statusCode ?? 0, allow, upgraded: false }))
    })
    req.on("upgrade", (response, socket) => {
      socket.destroy()
      resolve({ status: response.statusCode ?? 0, allow: undefined, upgraded: true })
    })
    req.on("timeout", () => req.destroy(new Error(`${method} ${path} on port ${port}: no answer in 10 s`)))
    req.on("error", reject)
    req.end()
  })

const upgradeHeaders = {
  connection: "Upgrade",
  upgrade: "websocket",
  "sec-websocket-version": "13",
  "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ=="
}

export const servedRoutes = async (candidates: ReadonlyArray<string>, ports: Record<Port, number>): Promise<ReadonlyArray<Route>> => {
  const routes: Array<Route> = []
  // `/jobs/:id` in the code and `/jobs/{id}` in the document are one route.
  const byConcrete = new Map(candidates.map((path) => [concrete(path), path]))
  for (const path of byConcrete.values()) {
    let served = false
    for (const port of ["public", "admin"] as const) {
      const { status, allow } = await request(ports[port], "OPTIONS", concrete(path))
      if (status !== 204 || allow === undefined) continue
      served = true
      for (const method of allow.split(",").map((method) => method.trim())) {
        if (method !== "HEAD" && method !== "OPTIONS") routes.push({ port, method, path })
      }
    }
    if (!served && (await request(ports.public, "GET", concrete(path), upgradeHeaders)).upgraded) {
      routes.push({ port: "public", method: "WS", path })
    }
  }
  return routes
}
