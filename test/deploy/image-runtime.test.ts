// The runtime stage of deploy/Dockerfile, laid out without docker: a temporary /app holding dist/
// and exactly the node_modules files its `COPY --from=build` lines copy (taken from this checkout's
// node_modules, as the build stage has them). dist/main.js must start there and open the SQLite
// job store, i.e. load better-sqlite3's native addon from that node_modules and nothing else.
// And the build stage's install, as written in the Dockerfile, accepts this checkout's lockfile
// (npm ci refuses one out of sync with package.json); asked with --dry-run: offline, nothing installed.
import { execFile, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { copiesFrom, installOf, readDockerfile } from "./dockerfile.js"

const hasJobs = Fs.existsSync("src/jobs")

/** Does what `COPY --from=build /app/<source> ./<destination>` does, from this checkout into `root`. */
const copyInto = (root: string, source: string, destination: string) => {
  const from = Path.resolve(Path.posix.relative("/app", source))
  const to = destination.endsWith("/") && Fs.statSync(from).isFile()
    ? Path.join(root, destination, Path.basename(from))
    : Path.join(root, destination)
  Fs.mkdirSync(Path.dirname(to), { recursive: true })
  Fs.cpSync(from, to, { recursive: true, dereference: true })
}

const ancestorsWithNodeModules = (dir: string): Array<string> => {
  const found: Array<string> = []
  for (let at = Path.dirname(dir); ; at = Path.dirname(at)) {
    if (Fs.existsSync(Path.join(at, "node_modules"))) found.push(at)
    if (at === Path.dirname(at)) return found
  }
}

describe("the runtime image's files", () => {
  const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "owned-service-image-"))
  afterAll(() => Fs.rmSync(root, { recursive: true, force: true }))

  it("start dist/main.js, which opens the SQLite job store with the copied addon and exits 0 on SIGTERM", async () => {
    // Otherwise Node could resolve better-sqlite3 from outside the copied layout.
    expect(ancestorsWithNodeModules(root)).toEqual([])
    for (const { source, destination } of copiesFrom(readDockerfile().at(-1)!, "build")) copyInto(root, source, destination)
    expect(Fs.existsSync(Path.join(root, "dist/main.js"))).toBe(true)

    const child = spawn(process.execPath, ["dist/main.js"], {
      cwd: root,
      env: { PATH: process.env.PATH ?? "", NODE_ENV: "production", PORT: "0", ADMIN_PORT: "0", HOST: "127.0.0.1", DATA_DIR: Path.join(root, "data") },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    const lines = () => stdout.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as Record<string, unknown>)
    const listening = new Promise<void>((resolve, reject) => {
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        stdout += chunk
        if (lines().some((line) => line.message === "listening")) resolve()
      })
      void exited.then((code) => reject(new Error(`exited with ${code} before listening; stderr: ${stderr}; stdout: ${stdout}`)))
      setTimeout(() => reject(new Error(`not listening within 10 s; stderr: ${stderr}`)), 10_000)
    })
    try {
      await listening
      if (hasJobs) {
        expect(lines().find((line) => line.message === "job store opened")).toMatchObject({ store: "sqlite" })
        expect(Fs.existsSync(Path.join(root, "data", "jobs.db"))).toBe(true)
      }
      child.kill("SIGTERM")
      expect(await exited).toBe(0)
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    }
  })
})

/** Runs the Dockerfile's install line in `dir` as a dry run; resolves with its exit code and output. */
const dryInstall = (dir: string) => {
  const args = installOf(readDockerfile()[0]!).args!.split(/\s+/)
  return new Promise<{ code: number; output: string }>((resolve) =>
    execFile(args[0]!, [...args.slice(1), "--dry-run", "--ignore-scripts"], { cwd: dir }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, output: `${stdout}${stderr}` })
    )
  )
}

describe("the build stage's install", () => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "owned-service-npm-ci-"))
  afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))

  it("accepts the committed package-lock.json, and refuses a package.json it does not lock", async () => {
    Fs.copyFileSync("package.json", Path.join(dir, "package.json"))
    Fs.copyFileSync("package-lock.json", Path.join(dir, "package-lock.json"))
    const accepted = await dryInstall(dir)
    expect(accepted.output).not.toMatch(/in sync/)
    expect(accepted.code).toBe(0)

    // The same check on a dependency the lockfile does not have: the failure it exists to catch.
    const manifest = JSON.parse(Fs.readFileSync("package.json", "utf8"))
    manifest.dependencies["left-pad"] = "1.3.0"
    Fs.writeFileSync(Path.join(dir, "package.json"), JSON.stringify(manifest, null, 2))
    const refused = await dryInstall(dir)
    expect(refused.code).not.toBe(0)
    expect(refused.output).toMatch(/package\.json and package-lock\.json[^\n]* in sync/)
    expect(refused.output).toMatch(/Missing: left-pad@1\.3\.0 from lock file/)
  }, 60_000)
})
