// What dist/ is built from (scripts/build.mjs), as one content hash, and whether a build is due: the test
// run's global setup builds only when the inputs differ from those of the last build, so that an
// unchanged checkout starts its tests without spending seconds of a shared machine on esbuild.
// scripts/build.mjs removes the stamp before it builds and writes it after a successful build,
// so a stamp always names the inputs of the dist/main.js beside it (a build by hand included).
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"

/** Files and folders (every file below, recursively) that the bundle depends on. */
export const BUILD_INPUTS = ["src", "scripts/build.mjs", "scripts/build-inputs.mjs", "scripts/dist-main.cjs", "package.json", "package-lock.json", "tsconfig.json"]

/** Written next to dist/main.js: the inputs hash of the build that wrote it. */
export const STAMP = "dist/.build-inputs"

const filesUnder = (root, relative) => {
  const path = Path.join(root, relative)
  if (!Fs.existsSync(path)) return []
  if (!Fs.statSync(path).isDirectory()) return [relative]
  return Fs.readdirSync(path).flatMap((name) => filesUnder(root, Path.posix.join(relative, name)))
}

/**
 * sha256 over every input's path and content, in a fixed order (a rename changes it too), and the
 * Node version: dist/app.cache is V8's code cache, which another Node rejects (then starts slower).
 */
export const inputsHash = (root) => {
  const hash = createHash("sha256")
  hash.update(`node ${process.version}\0`)
  const files = BUILD_INPUTS.flatMap((input) => filesUnder(root, input)).sort()
  for (const file of files) {
    hash.update(`${file}\0`)
    hash.update(Fs.readFileSync(Path.join(root, file)))
    hash.update("\0")
  }
  return hash.digest("hex")
}

/** Whether `root` needs a build, and why (for the log line). */
export const buildDecision = (root) => {
  if (!Fs.existsSync(Path.join(root, "dist/main.js"))) return { rebuild: true, reason: "dist/main.js is missing" }
  const stampPath = Path.join(root, STAMP)
  if (!Fs.existsSync(stampPath)) return { rebuild: true, reason: `no ${STAMP} (built by an older build script, or the build failed)` }
  const current = inputsHash(root)
  return Fs.readFileSync(stampPath, "utf8").trim() === current
    ? { rebuild: false, reason: "its inputs are unchanged since the last build" }
    : { rebuild: true, reason: "its inputs changed since the last build" }
}

export const removeStamp = (root) => Fs.rmSync(Path.join(root, STAMP), { force: true })

export const writeStamp = (root, hash) => Fs.writeFileSync(Path.join(root, STAMP), `${hash}\n`)
