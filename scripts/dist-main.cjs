// dist/main.js (copied there by scripts/build.mjs): the service's entry point, which runs the
// bundle dist/app.cjs through V8's code cache dist/app.cache.
// Owns: nothing at run time; it compiles and runs the bundle once.
// Does not own: the process's lifetime (src/main.ts ends it), the bundle, the cache (the build writes both).
// Released when: never; it returns once the bundle's top level has run.
//
// Why: compiling a bundle of a few MB took a third of the time to the first 200 (issue 21), and
// Node 20 has no compile cache for files it loads itself (module.enableCompileCache is Node 22).
// vm.Script takes V8's code cache as `cachedData`: with it, V8 deserializes the functions the
// build's warm-up run compiled (startup and a request) instead of parsing and compiling them. A
// cache V8 rejects (another Node or V8 flags) costs nothing but that speed: V8 compiles as usual.
// dist/package.json says "commonjs": this file is CommonJS, which Node loads faster than an ES
// module, and the bundle gets a real `require` (for better-sqlite3 in node_modules).
//
// OWNED_SERVICE_WRITE_CODE_CACHE=<file> is the build's warm-up run (scripts/build.mjs): no cache
// is read, and at exit the cache of everything compiled by then is written to <file>.
"use strict"
const Fs = require("node:fs")
const { createRequire } = require("node:module")
const Path = require("node:path")
const Vm = require("node:vm")

const file = Path.join(__dirname, "app.cjs")
const cacheOut = process.env.OWNED_SERVICE_WRITE_CODE_CACHE
delete process.env.OWNED_SERVICE_WRITE_CODE_CACHE

const readCache = () => {
  try {
    return Fs.readFileSync(Path.join(__dirname, "app.cache"))
  } catch {
    return undefined
  }
}

// The build checks that the bundle is ASCII (esbuild escapes the rest): latin1 is the cheapest read.
const script = new Vm.Script(Fs.readFileSync(file, "latin1"), {
  filename: file,
  cachedData: cacheOut === undefined ? readCache() : undefined,
  importModuleDynamically: Vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER
})
if (cacheOut !== undefined) process.once("exit", () => Fs.writeFileSync(cacheOut, script.createCachedData()))
// The bundle is one function taking CommonJS's module arguments (the build wraps it so).
const app = { exports: {} }
script.runInThisContext()(app.exports, createRequire(file), app, file, __dirname)
