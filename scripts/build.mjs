// Builds dist/: src/main.ts bundled by esbuild into dist/app.cjs, started by dist/main.js
// (scripts/dist-main.cjs) through V8's code cache dist/app.cache, which a warm-up run of the
// built service writes (start, one GET /healthz, SIGTERM). Startup time is a contract figure
// (issue 21): one file, no module resolution at startup, nothing compiled twice.
// Owns: the warm-up child process and its temporary DATA_DIR (stopped and removed before it returns).
// Does not own: dist/ once written (npm start, the tests, deploy/Dockerfile run it).
// Released when: the build returns; the warm-up child gets SIGTERM, then SIGKILL after 20 s.
//
// Dependencies are bundled too, except what cannot be:
// - `better-sqlite3`'s compiled addon (the SQLite job store). Its JavaScript is bundled (loading
//   its dozen files through Node's module loader, uncached, took ~10 ms of the start), but the
//   addon, build/Release/better_sqlite3.node, stays in node_modules: `sqliteAddon` below loads it
//   from there directly, and through `bindings` (with better-sqlite3's folder as its root) if it
//   is not there. So node_modules/better-sqlite3 (its package.json and addon; `bindings` and
//   `file-uri-to-path` for the fallback) must ship next to dist/ (see deploy/Dockerfile).
// - `pg-native` is pg's optional native binding, required only through `pg.native` (we never ask
//   for it) and not installed; `ws`'s native accelerators `bufferutil` and `utf-8-validate` are
//   optional requires inside try/catch. External, they are looked up only if ever used.
// - Swagger UI's script and stylesheet (1.9 MB of string literals, 0.4 of the bundle): written to
//   dist/swagger-ui.js and .css and read the first time the docs page is built, so that starting
//   does not parse, cache and hold them.
//
// The bundle is CommonJS (dist/package.json says so) wrapped in one function expression: vm.Script
// compiles a script, not a module, and the loader passes it require/module/__filename/__dirname.
//
// The inputs hash is taken before bundling and written to dist/.build-inputs after it succeeds
// (scripts/build-inputs.mjs): a source edited during the build leaves a stamp that no longer
// matches, so the next test run builds again.
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import { build } from "esbuild"
import { inputsHash, removeStamp, writeStamp } from "./build-inputs.mjs"

const external = ["pg-native", "bufferutil", "utf-8-validate"]

/**
 * better-sqlite3 finds its addon with `bindings`, which searches relative to the calling file
 * (bundled: dist/, where it is not) through a dozen candidate paths. The stand-in loads it from
 * node_modules/better-sqlite3/build/Release, where npm's install puts it, resolved at runtime from
 * dist/app.cjs; any other layout is left to `bindings`, told where better-sqlite3 is.
 */
const sqliteAddon = {
  name: "sqlite-addon",
  setup(build) {
    // Resolved at runtime from node_modules: better-sqlite3's folder, and the fallback's `bindings`.
    build.onResolve({ filter: /^(bindings|better-sqlite3\/package\.json)$/, namespace: "sqlite-addon" }, (args) => ({ path: args.path, external: true }))
    build.onResolve({ filter: /^bindings$/ }, (args) =>
      /[\\/]node_modules[\\/]better-sqlite3[\\/]/.test(args.importer) ? { path: "bindings", namespace: "sqlite-addon" } : undefined)
    build.onLoad({ filter: /.*/, namespace: "sqlite-addon" }, () => ({
      loader: "js",
      contents: `const Path = require("node:path")
module.exports = (name) => {
  const root = Path.dirname(require.resolve("better-sqlite3/package.json"))
  try {
    return require(Path.join(root, "build", "Release", name))
  } catch (error) {
    if (error?.code !== "MODULE_NOT_FOUND") throw error
    return require("bindings")({ bindings: name, module_root: root })
  }
}`
    }))
  }
}

/** @effect/platform's Swagger UI strings, moved to files next to the bundle and read on first use. */
const swaggerAssets = {
  name: "swagger-ui-assets",
  setup(build) {
    // Its own namespace: under @effect/platform's dist/esm a .js file is an ES module, and the
    // stand-in below is CommonJS (an ES module cannot export getters; esbuild made them undefined).
    build.onResolve({ filter: /^\.\/internal\/httpApiSwagger\.js$/ }, (args) =>
      /[\\/]@effect[\\/]platform[\\/]dist[\\/]esm$/.test(args.resolveDir)
        ? { path: Path.join(args.resolveDir, args.path), namespace: "swagger-ui-assets" }
        : undefined)
    build.onLoad({ filter: /.*/, namespace: "swagger-ui-assets" }, async (args) => {
      const { css, javascript } = await import(args.path)
      Fs.writeFileSync("dist/swagger-ui.js", javascript)
      Fs.writeFileSync("dist/swagger-ui.css", css)
      // CommonJS with getters: the importer reads `internal.javascript` when it builds the page.
      const read = (name) => `require("node:fs").readFileSync(require("node:path").join(__dirname, "${name}"), "utf8")`
      return {
        loader: "js",
        contents: `let javascript, css
module.exports = { get javascript() { return javascript ??= ${read("swagger-ui.js")} }, get css() { return css ??= ${read("swagger-ui.css")} } }`
      }
    })
  }
}

/**
 * Packages loaded only when first used, each from its own bundle dist/chunks/<name>.cjs: the
 * Postgres driver (used only with DATABASE_URL), ioredis (only with REDIS_URL), undici (the
 * platform's fetch-style HTTP client; Upstream uses the node:http one) and mime (the platform's
 * file responses, which no route of ours sends) and ws (the WebSocket hub makes its server on the
 * first upgrade: src/websocket/Hub.ts). Bundled into app.cjs they were evaluated at
 * startup (and pg and undici load Node's own undici too), for nothing. With mime's type tables
 * (a few thousand strings) built at startup, the heap reached V8's first old-generation limit
 * before the first request: a full GC ran between "listening" and the first response. Without
 * them it does not (perf_hooks "gc" entries; issue 21), with little to spare (~0.5 MB).
 */
const lazyChunks = { pg: ["pg", "pg-cursor"], ioredis: ["ioredis"], undici: ["undici"], mime: ["mime"], ws: ["ws"] }
/** The chunks app.cjs refers to: a service without a feature (README, "make it yours") builds fewer. */
const usedChunks = new Set()

/**
 * In app.cjs each lazy package is a stand-in with the real module's export names, each a getter
 * that loads the chunk on first use (a function export, like pg-cursor's class, is a forwarding
 * function). The names are read from the real module here, at build time.
 */
const lazyPackages = {
  name: "lazy-packages",
  setup(build) {
    const chunkOf = new Map(Object.entries(lazyChunks).flatMap(([chunk, names]) => names.map((name) => [name, chunk])))
    const requireReal = createRequire(Path.resolve("package.json"))
    const filter = new RegExp(`^(${[...chunkOf.keys()].join("|")})$`)
    build.onResolve({ filter }, (args) => ({ path: args.path, namespace: "lazy-package" }))
    build.onLoad({ filter: /.*/, namespace: "lazy-package" }, ({ path: name }) => {
      const real = requireReal(name)
      usedChunks.add(chunkOf.get(name))
      const load = `require(require("node:path").join(__dirname, "chunks/${chunkOf.get(name)}.cjs"))[${JSON.stringify(name)}]`
      const skip = new Set(typeof real === "function" ? ["length", "name", "prototype", "arguments", "caller"] : [])
      const names = Object.getOwnPropertyNames(real).filter((key) => !skip.has(key) && key !== "__esModule")
      return {
        loader: "js",
        contents: `const real = () => ${load}
module.exports = ${typeof real === "function" ? "function (...args) { return new.target ? Reflect.construct(real(), args) : real()(...args) }" : "{}"}
${real.__esModule ? "Object.defineProperty(module.exports, \"__esModule\", { value: true })\n" : ""}for (const key of ${JSON.stringify(names)}) Object.defineProperty(module.exports, key, { get: () => real()[key], enumerable: true })`
      }
    })
  }
}

/**
 * Imports of a package's index (`import { Effect, Schema } from "effect"`) rewritten to its modules
 * (`import * as Effect from "effect/Effect"`). Through the index, esbuild keeps a namespace object
 * holding every export of each module named (all of Schema, all of Effect...), so none of it could
 * be left out, and starting evaluated all of it. Through the module, only what is used is bundled.
 * Our sources and the libraries' own (some of which import from "effect") are rewritten alike.
 */
const barrels = ["effect", "@effect/platform", "@effect/platform-node", "@effect/sql", "@effect/sql-pg", "@effect/sql-sqlite-node", "@effect/experimental"]
const deepImports = {
  name: "deep-imports",
  setup(build) {
    const requireReal = createRequire(Path.resolve("package.json"))
    /** name -> the module it comes from, and whether it is that module's namespace. */
    const exportsOf = new Map(barrels.map((pkg) => {
      const index = Fs.readFileSync(Path.join(Path.dirname(requireReal.resolve(`${pkg}/package.json`)), "dist/esm/index.js"), "utf8")
        .replace(/\/\*[\s\S]*?\*\//g, "")
      const names = new Map()
      for (const [, name, module] of index.matchAll(/export \* as (\w+) from "\.\/(\w+)\.js"/g)) names.set(name, { module, namespace: true })
      for (const [, list, module] of index.matchAll(/export \{([^}]*)\} from "\.\/(\w+)\.js"/g)) {
        for (const name of list.split(",").map((name) => name.trim()).filter(Boolean)) names.set(name, { module, namespace: false })
      }
      return [pkg, names]
    }))
    const pattern = new RegExp(`import\\s*\\{([^}]*)\\}\\s*from\\s*"(${barrels.map((pkg) => pkg.replace("/", "\\/")).join("|")})"`, "g")
    const rewrite = (source) =>
      source.replace(pattern, (whole, list, pkg) => {
        const names = exportsOf.get(pkg)
        const kept = []
        const lines = []
        for (const specifier of list.split(",").map((part) => part.trim()).filter(Boolean)) {
          if (specifier.startsWith("type ")) continue
          const [imported, local = imported] = specifier.split(/\s+as\s+/)
          const found = names.get(imported)
          if (found === undefined) kept.push(specifier)
          else if (found.namespace) lines.push(`import * as ${local} from "${pkg}/${found.module}"`)
          else lines.push(`import { ${imported} as ${local} } from "${pkg}/${found.module}"`)
        }
        if (kept.length > 0) lines.push(`import { ${kept.join(", ")} } from "${pkg}"`)
        // As many lines as the statement had: the lines below it stay where the source map says.
        return lines.join("; ") + "\n".repeat(whole.split("\n").length - 1)
      })
    build.onLoad({ filter: /\.(ts|js)$/ }, (args) => {
      if (!/[\\/](src|node_modules[\\/](effect|@effect))[\\/]/.test(args.path)) return undefined
      const source = Fs.readFileSync(args.path, "utf8")
      if (!/from\s*"(effect|@effect\/[\w-]+)"/.test(source)) return undefined
      const contents = rewrite(source)
      return contents === source ? undefined : { contents, loader: args.path.endsWith(".ts") ? "ts" : "js" }
    })
  }
}

/** Runs the built service once with OWNED_SERVICE_WRITE_CODE_CACHE; resolves with why not, or undefined. */
const warmUp = (cacheFile) =>
  new Promise((resolve) => {
    const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "build-code-cache-"))
    // A clean environment, as the bench starts it: the builder's DATABASE_URL and the like stay out.
    const child = spawn(process.execPath, ["dist/main.js"], {
      env: { PATH: process.env.PATH, PORT: "0", ADMIN_PORT: "0", HOST: "127.0.0.1", DATA_DIR: dataDir, OWNED_SERVICE_WRITE_CODE_CACHE: cacheFile },
      stdio: ["ignore", "pipe", "inherit"]
    })
    const killer = setTimeout(() => child.kill("SIGKILL"), 20_000)
    let buffered = ""
    let answered = false
    child.stdout.setEncoding("utf8").on("data", (chunk) => {
      buffered += chunk
      const line = buffered.split("\n").find((line) => line.includes('"message":"listening"'))
      if (line === undefined || answered) return
      answered = true
      fetch(`http://127.0.0.1:${JSON.parse(line).port}/healthz`)
        .then((response) => response.arrayBuffer(), () => undefined)
        .finally(() => child.kill("SIGTERM"))
    })
    child.once("exit", (code, signal) => {
      clearTimeout(killer)
      Fs.rmSync(dataDir, { recursive: true, force: true })
      resolve(code === 0 && answered ? undefined : `the warm-up run ended with ${signal ?? code}${answered ? "" : " before listening"}`)
    })
  })

const root = process.cwd()
const inputs = inputsHash(root)
removeStamp(root)
Fs.rmSync("dist", { recursive: true, force: true })
Fs.mkdirSync("dist")
await build({
  entryPoints: ["src/main.ts"],
  outfile: "dist/app.cjs",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  charset: "ascii",
  // Whitespace and comments only (names stay, for stack traces): comments are where non-ASCII was.
  minifyWhitespace: true,
  sourcemap: true,
  legalComments: "none",
  external,
  plugins: [swaggerAssets, lazyPackages, sqliteAddon, deepImports],
  banner: { js: "(function (exports, require, module, __filename, __dirname) {" },
  footer: { js: "})" },
  logLevel: "warning"
})
for (const chunk of usedChunks) {
  const names = lazyChunks[chunk]
  await build({
    stdin: { contents: `module.exports = { ${names.map((name) => `${JSON.stringify(name)}: require(${JSON.stringify(name)})`).join(", ")} }`, resolveDir: root, loader: "js" },
    outfile: `dist/chunks/${chunk}.cjs`,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    minifyWhitespace: true,
    legalComments: "none",
    external,
    logLevel: "warning"
  })
}
// The stand-in above replaces a module of @effect/platform by its path: a release that moves it
// must fail the build, not ship a docs page whose script is `undefined`.
if (!Fs.existsSync("dist/swagger-ui.js")) throw new Error("Swagger UI's assets were not found in @effect/platform (scripts/build.mjs, swaggerAssets)")
const bundle = Fs.readFileSync("dist/app.cjs")
if (bundle.some((byte) => byte > 0x7f)) throw new Error("dist/app.cjs is not ASCII: dist/main.js reads it as latin1")
Fs.writeFileSync("dist/package.json", `${JSON.stringify({ type: "commonjs" })}\n`)
Fs.copyFileSync("scripts/dist-main.cjs", "dist/main.js")
const failed = await warmUp(Path.resolve("dist/app.cache"))
if (failed !== undefined) {
  Fs.rmSync("dist/app.cache", { force: true })
  console.warn(`build: no code cache (${failed}); dist/main.js starts without one, slower`)
}
writeStamp(root, inputs)
