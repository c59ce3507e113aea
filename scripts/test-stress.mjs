// The suite on a busy machine: runs the whole test suite 3 times while two CPU-burning processes
// run beside it, prints each run's pass/fail counts (and the failed tests' names) and a summary,
// and exits 1 if any run failed. A flake that shows up only under load shows up here.
//
//   npm run test:stress                      (3 runs, 2 burners)
//   npm run test:stress -- test/process      (extra arguments go to vitest: stress one folder)
//   STRESS_RUNS=5 STRESS_BURNERS=3 npm run test:stress
//
// Owns: the burner processes and the vitest child it starts (in a process group of its own, with
// vitest's workers and the services tests spawn); it kills them when it ends, on Ctrl-C or SIGTERM.
// Does not own: what a finished run's tests started (each test stops its own).
// Released when: this script exits; a burner whose parent is gone (this script SIGKILLed) exits
// by itself within a second.
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "..")
const positive = (name, fallback) => {
  const raw = process.env[name]
  if (raw === undefined || raw === "") return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 0) {
    console.error(`${name} must be a whole number, got "${raw}"`)
    process.exit(2)
  }
  return value
}
const runs = Math.max(1, positive("STRESS_RUNS", 3))
const burnerCount = positive("STRESS_BURNERS", 2)
const vitestArgs = process.argv.slice(2)

// A tight loop that checks, about twice a second, whether its parent is still this script.
const burnerSource = `
const parent = Number(process.argv[1]); let next = 0
for (;;) { const now = Date.now(); if (now > next) { next = now + 500; if (process.ppid !== parent) process.exit(0) } }`

const children = new Set()
// vitest runs in a process group of its own: stopping it stops its workers and every service a
// test spawned, which would otherwise outlive a run cut short (their tests' cleanup never runs).
const stopAll = () => {
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue
    try {
      if (child.group) process.kill(-child.pid, "SIGKILL")
      else child.kill("SIGKILL")
    } catch {
      // already gone
    }
  }
  children.clear()
}
process.on("exit", stopAll)
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    console.error(`\ntest:stress: ${signal}, stopping the burners and vitest`)
    stopAll()
    process.exit(130)
  })
}

const burners = Array.from({ length: burnerCount }, () => {
  const child = spawn(process.execPath, ["-e", burnerSource, String(process.pid)], { stdio: "ignore" })
  children.add(child)
  return child
})
console.log(`test:stress: ${runs} run(s) of the suite beside ${burnerCount} CPU burner(s) (pids ${burners.map((b) => b.pid).join(", ")})`)

const vitestBin = Path.join(root, "node_modules", "vitest", "vitest.mjs")
const runOnce = (index) =>
  new Promise((resolve) => {
    const report = Path.join(Os.tmpdir(), `test-stress-${process.pid}-${index}.json`)
    Fs.rmSync(report, { force: true })
    const started = performance.now()
    const child = spawn(
      process.execPath,
      [vitestBin, "run", "--reporter=dot", "--reporter=json", `--outputFile.json=${report}`, ...vitestArgs],
      { cwd: root, stdio: "inherit", detached: true, env: { ...process.env, CI: process.env.CI ?? "true" } }
    )
    child.group = true
    children.add(child)
    child.once("exit", (code, signal) => {
      children.delete(child)
      try {
        process.kill(-child.pid, "SIGKILL") // anything of this run still in its group
      } catch {
        // the group is empty: nothing was left behind
      }
      const seconds = (performance.now() - started) / 1000
      let result
      try {
        result = JSON.parse(Fs.readFileSync(report, "utf8"))
      } catch {
        result = undefined
      }
      Fs.rmSync(report, { force: true })
      const failedNames = (result?.testResults ?? []).flatMap((file) => {
        const relative = Path.relative(root, file.name)
        const tests = file.assertionResults.filter((test) => test.status === "failed").map((test) => `${relative} > ${test.fullName}`)
        // A file that failed to load or in a hook has no failed test to name: name the file.
        return tests.length === 0 && file.status === "failed" ? [`${relative} (file: ${file.message?.split("\n")[0] ?? "failed"})`] : tests
      })
      resolve({
        index,
        seconds,
        exit: signal ?? code,
        passed: result?.numPassedTests ?? 0,
        failed: (result?.numFailedTests ?? 0) + (result?.numRuntimeErrorTestSuites ?? 0),
        skipped: (result?.numPendingTests ?? 0) + (result?.numTodoTests ?? 0),
        failedNames,
        reported: result !== undefined
      })
    })
  })

const results = []
const started = performance.now()
for (let index = 1; index <= runs; index++) {
  console.log(`\n=== test:stress run ${index}/${runs} ===`)
  const run = await runOnce(index)
  run.ok = run.reported && run.exit === 0 && run.failed === 0 && run.passed > 0
  results.push(run)
  console.log(
    `=== run ${index}/${runs}: ${run.passed} passed, ${run.failed} failed, ${run.skipped} skipped` +
      ` in ${run.seconds.toFixed(0)} s (vitest exit ${run.exit}${run.reported ? "" : ", no report written"}) ===`
  )
  for (const name of run.failedNames) console.log(`    failed: ${name}`)
}
stopAll()

const minutes = (performance.now() - started) / 60_000
const bad = results.filter((run) => !run.ok)
console.log(`\n=== test:stress summary (${minutes.toFixed(1)} min, ${burnerCount} burner(s)) ===`)
for (const run of results) {
  console.log(`run ${run.index}: ${run.ok ? "PASS" : "FAIL"}  ${run.passed} passed, ${run.failed} failed, ${run.skipped} skipped, ${run.seconds.toFixed(0)} s`)
}
console.log(bad.length === 0 ? `all ${runs} runs passed` : `${bad.length} of ${runs} runs failed`)
process.exit(bad.length === 0 ? 0 : 1)
