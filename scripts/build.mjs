// Bundles src/main.ts into dist/main.js with esbuild: one file, fast to build and fast to start.
// Dependencies are bundled too (startup time is a contract figure); `ws`'s optional native
// accelerators stay external because they are optional requires inside try/catch.
import { build } from "esbuild"

await build({
  entryPoints: ["src/main.ts"],
  outfile: "dist/main.js",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  sourcemap: true,
  legalComments: "none",
  external: ["bufferutil", "utf-8-validate", "better-sqlite3", "pg-native"],
  // ESM output has no `require`; bundled CommonJS dependencies (ws) need one.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);"
  },
  logLevel: "warning"
})
