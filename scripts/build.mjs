// Bundles src/main.ts into dist/main.js with esbuild: one file, fast to build and fast to start.
// Dependencies are bundled too (startup time is a contract figure), except what cannot be:
// - `better-sqlite3` (the SQLite job store) loads its compiled better_sqlite3.node through
//   `bindings`, which searches for it relative to its own file (`__filename`, the call stack):
//   bundled, it finds nothing (ReferenceError: __filename is not defined). It stays in
//   node_modules and dist/main.js imports it at runtime, so node_modules/better-sqlite3 (and its
//   runtime requires `bindings` and `file-uri-to-path`) must ship next to dist/ (see deploy/Dockerfile).
// - `pg-native` is pg's optional native binding, required only through `pg.native` (we never ask
//   for it) and not installed; `ws`'s native accelerators `bufferutil` and `utf-8-validate` are
//   optional requires inside try/catch. External, they are looked up only if ever used.
//
// The inputs hash is taken before bundling and written to dist/.build-inputs after it succeeds
// (scripts/build-inputs.mjs): a source edited during the build leaves a stamp that no longer
// matches, so the next test run builds again.
import { build } from "esbuild"
import { inputsHash, removeStamp, writeStamp } from "./build-inputs.mjs"

const external = ["better-sqlite3", "pg-native", "bufferutil", "utf-8-validate"]

const root = process.cwd()
const inputs = inputsHash(root)
removeStamp(root)
await build({
  entryPoints: ["src/main.ts"],
  outfile: "dist/main.js",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  sourcemap: true,
  legalComments: "none",
  external,
  // ESM output has no `require`; bundled CommonJS dependencies (ws, pg) need one.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);"
  },
  logLevel: "warning"
})
writeStamp(root, inputs)
