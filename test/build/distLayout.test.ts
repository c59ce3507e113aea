// What scripts/build.mjs moves out of dist/app.cjs must still be there when the built service uses
// it: Swagger UI's script and stylesheet (dist/swagger-ui.*, read when the docs page is built) and
// the chunks loaded on first use (dist/chunks/*.cjs). A stand-in the bundler misreads serves
// `undefined` instead of the page's script, with no error anywhere, so the page itself is checked.
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import { spawnService } from "../support/spawnService.js"

describe("the built dist/", () => {
  it("serves /docs with Swagger UI's script and stylesheet, read from dist/swagger-ui.*", async () => {
    const service = await spawnService()
    const page = await (await fetch(`http://127.0.0.1:${service.port}/docs`)).text()
    expect(page).not.toContain("undefined</style>")
    expect(page).toContain(Fs.readFileSync("dist/swagger-ui.css", "utf8"))
    expect(page).toContain(Fs.readFileSync("dist/swagger-ui.js", "utf8"))
    service.signal("SIGTERM")
    expect((await service.exited).code).toBe(0)
  })

  // Each feature that is still there (README, "make it yours") brings its chunk: the job store's
  // Postgres driver, the WebSocket broadcast's ioredis, and undici with the upstream's HTTP client;
  // the HTTP platform (src/http, always there) brings mime, for its file responses; the WebSocket
  // hub brings ws, loaded on the first upgrade.
  it.each([
    ["jobs", "pg.cjs", "pg", "Pool"],
    ["jobs", "pg.cjs", "pg-cursor", "prototype"],
    ["websocket", "ioredis.cjs", "ioredis", "Redis"],
    ["upstream", "undici.cjs", "undici", "Agent"],
    ["http", "mime.cjs", "mime", "getType"],
    ["websocket", "ws.cjs", "ws", "WebSocketServer"]
  ])("with src/%s, has dist/chunks/%s exporting %s (its %s)", (feature, file, name, member) => {
    if (!Fs.existsSync(Path.join("src", feature))) return
    const chunk = createRequire(import.meta.url)(Path.resolve("dist/chunks", file)) as Record<string, Record<string, unknown> | undefined>
    expect(chunk[name]?.[member]).toBeDefined()
  })

  // Startup evaluates app.cjs whole: mime's type tables there were built at every start, and took
  // the heap to V8's first full GC before the first response (issue 21; see scripts/build.mjs).
  it("does not build mime's type tables at startup: they are in dist/chunks/mime.cjs, not in dist/app.cjs", () => {
    const tableEntry = '"application/andrew-inset"'
    expect(Fs.readFileSync("dist/chunks/mime.cjs", "latin1")).toContain(tableEntry)
    expect(Fs.readFileSync("dist/app.cjs", "latin1")).not.toContain(tableEntry)
  })

  // ws (its 13 modules, zlib, and a lookup of the absent `bufferutil`) was evaluated at every
  // start for a service that may never see an upgrade: the hub makes its server on the first one.
  it("does not evaluate ws at startup: it is in dist/chunks/ws.cjs, not in dist/app.cjs", () => {
    const serverSource = "Missing or invalid Sec-WebSocket-Key header"
    expect(Fs.readFileSync("dist/chunks/ws.cjs", "latin1")).toContain(serverSource)
    expect(Fs.readFileSync("dist/app.cjs", "latin1")).not.toContain(serverSource)
  })
})
