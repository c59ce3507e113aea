// "Make it yours", proven: in a temporary copy of the repository, delete an optional feature the
// way the README says (its folder under src/, its folder under test/, and the lines in src/App.ts
// that name it), then typecheck and run the whole test suite there. Once per feature, and once
// with all of them gone (the bare skeleton). Run by .ci/run; exits 1 if any copy fails.
//
//   node scripts/check-removable.mjs [websocket|jobs|upstream ...]   (default: each, then all)
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "..")
const features = ["websocket", "jobs", "upstream"]
/** Top-level entries not copied: installed, generated or local state. */
const skipped = new Set(["node_modules", ".git", "dist", "data", "coverage", ".vitest-results.json"])

const requested = process.argv.slice(2)
for (const name of requested) {
  if (!features.includes(name)) {
    console.error(`unknown feature "${name}"; the optional features are: ${features.join(", ")}`)
    process.exit(2)
  }
}
const cases = requested.length > 0 ? requested.map((name) => [name]) : [...features.map((name) => [name]), features]

/** Deletes the lines of App.ts that name the feature: its import, and every use of what it imports. */
const unwire = (source, feature) => {
  const lines = source.split("\n")
  const imported = lines
    .map((line) => line.match(new RegExp(`^import \\* as (\\w+) from "\\./${feature}/[^"]+"`))?.[1])
    .filter((name) => name !== undefined)
  // Without an import to follow, the check would prove nothing: the wiring changed under it.
  if (imported.length === 0) throw new Error(`src/App.ts imports nothing from ./${feature}/; update scripts/check-removable.mjs`)
  const names = new RegExp(`\\b(${imported.join("|")})\\b`)
  return lines.filter((line) => !names.test(line)).join("\n")
}

const run = (cwd, command, args) => {
  const started = performance.now()
  const result = spawnSync(command, args, { cwd, encoding: "utf8", env: { ...process.env, CI: "true" } })
  return { ok: result.status === 0, output: `${result.stdout ?? ""}${result.stderr ?? ""}`, seconds: (performance.now() - started) / 1000 }
}

const check = (removed) => {
  const label = `without ${removed.join(" + ")}`
  const copy = Fs.mkdtempSync(Path.join(Os.tmpdir(), `removable-${removed.join("-")}-`))
  try {
    Fs.cpSync(root, copy, { recursive: true, filter: (source) => !skipped.has(Path.relative(root, source)) })
    Fs.symlinkSync(Path.join(root, "node_modules"), Path.join(copy, "node_modules"), "dir")
    const appPath = Path.join(copy, "src", "App.ts")
    let app = Fs.readFileSync(appPath, "utf8")
    for (const feature of removed) {
      for (const folder of ["src", "test"]) {
        const path = Path.join(copy, folder, feature)
        if (!Fs.existsSync(path)) throw new Error(`${folder}/${feature} does not exist`)
        Fs.rmSync(path, { recursive: true })
      }
      app = unwire(app, feature)
    }
    Fs.writeFileSync(appPath, app)

    const typecheck = run(copy, process.execPath, [Path.join(root, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", copy])
    if (!typecheck.ok) return { label, ok: false, why: `typecheck failed\n${typecheck.output}` }
    const report = Path.join(copy, ".vitest-results.json")
    const tests = run(copy, process.execPath, [
      Path.join(root, "node_modules/vitest/vitest.mjs"),
      "run",
      "--reporter=dot",
      "--reporter=json",
      `--outputFile.json=${report}`
    ])
    if (!Fs.existsSync(report)) return { label, ok: false, why: `no test report\n${tests.output}` }
    const { numPassedTests: passed, numFailedTests: failed } = JSON.parse(Fs.readFileSync(report, "utf8"))
    const summary = `typecheck ok (${typecheck.seconds.toFixed(0)} s); ${passed} passed, ${failed} failed (${tests.seconds.toFixed(0)} s)`
    if (!tests.ok || passed === 0) return { label, ok: false, why: `${summary}\n${tests.output}` }
    return { label, ok: true, why: summary }
  } catch (error) {
    return { label, ok: false, why: String(error?.stack ?? error) }
  } finally {
    Fs.rmSync(copy, { recursive: true, force: true })
  }
}

let failures = 0
for (const removed of cases) {
  const result = check(removed)
  console.log(`${result.ok ? "ok  " : "FAIL"} ${result.label}: ${result.why}`)
  if (!result.ok) failures += 1
}
console.log(failures === 0 ? "removal check: every optional feature can be deleted" : `removal check: ${failures} failed`)
process.exit(failures === 0 ? 0 : 1)
