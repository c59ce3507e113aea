// The global setup's build decision (scripts/build-inputs.mjs): a build is due when dist/main.js or
// its stamp is missing, or when any input (src/**, the build scripts, package.json, the lockfile,
// tsconfig.json) differs from the last build's; not when only other files changed.
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { buildDecision, inputsHash, STAMP, writeStamp } from "../../scripts/build-inputs.mjs"

const roots: Array<string> = []
afterEach(() => {
  for (const root of roots.splice(0)) Fs.rmSync(root, { recursive: true, force: true })
})

const write = (root: string, file: string, content: string) => {
  Fs.mkdirSync(Path.dirname(Path.join(root, file)), { recursive: true })
  Fs.writeFileSync(Path.join(root, file), content)
}

/** A checkout whose dist/main.js was built from its current inputs. */
const built = () => {
  const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "build-inputs-"))
  roots.push(root)
  write(root, "src/main.ts", "export const main = 1\n")
  write(root, "src/lib/a.ts", "export const a = 1\n")
  write(root, "scripts/build.mjs", "// build\n")
  write(root, "scripts/build-inputs.mjs", "// inputs\n")
  write(root, "scripts/dist-main.cjs", "// loader\n")
  write(root, "package.json", "{}\n")
  write(root, "package-lock.json", "{}\n")
  write(root, "tsconfig.json", "{}\n")
  write(root, "dist/main.js", "// bundle\n")
  writeStamp(root, inputsHash(root))
  return root
}

describe("buildDecision", () => {
  it("does not rebuild when nothing changed since the last build", () => {
    expect(buildDecision(built())).toEqual({ rebuild: false, reason: "its inputs are unchanged since the last build" })
  })

  it("does not rebuild for files outside the inputs (tests, README, bench)", () => {
    const root = built()
    write(root, "test/x.test.ts", "x\n")
    write(root, "README.md", "changed\n")
    write(root, "bench/RESULTS.md", "changed\n")
    expect(buildDecision(root).rebuild).toBe(false)
  })

  it.each([
    ["a source edited", (root: string) => write(root, "src/lib/a.ts", "export const a = 2\n")],
    ["a source added", (root: string) => write(root, "src/lib/b.ts", "export const b = 1\n")],
    ["a source removed", (root: string) => Fs.rmSync(Path.join(root, "src/lib/a.ts"))],
    ["a source renamed, same content", (root: string) => Fs.renameSync(Path.join(root, "src/lib/a.ts"), Path.join(root, "src/lib/c.ts"))],
    ["scripts/build.mjs edited", (root: string) => write(root, "scripts/build.mjs", "// build, minified\n")],
    ["scripts/dist-main.cjs edited (it becomes dist/main.js)", (root: string) => write(root, "scripts/dist-main.cjs", "// loader, changed\n")],
    ["package.json edited", (root: string) => write(root, "package.json", "{\"x\":1}\n")],
    ["package-lock.json edited", (root: string) => write(root, "package-lock.json", "{\"x\":1}\n")],
    ["tsconfig.json edited", (root: string) => write(root, "tsconfig.json", "{\"x\":1}\n")]
  ])("rebuilds when %s", (_, change) => {
    const root = built()
    change(root)
    expect(buildDecision(root)).toEqual({ rebuild: true, reason: "its inputs changed since the last build" })
  })

  it("rebuilds when dist/main.js is missing, even with a matching stamp", () => {
    const root = built()
    Fs.rmSync(Path.join(root, "dist/main.js"))
    expect(buildDecision(root)).toMatchObject({ rebuild: true, reason: "dist/main.js is missing" })
  })

  it("rebuilds when there is no stamp (a build that failed, or one by an older script)", () => {
    const root = built()
    Fs.rmSync(Path.join(root, STAMP))
    expect(buildDecision(root).rebuild).toBe(true)
  })

  it("does not rebuild again once the changed inputs are built and stamped", () => {
    const root = built()
    write(root, "src/main.ts", "export const main = 2\n")
    expect(buildDecision(root).rebuild).toBe(true)
    writeStamp(root, inputsHash(root))
    expect(buildDecision(root).rebuild).toBe(false)
  })
})

describe("this checkout", () => {
  it("has a dist/main.js stamped with its current inputs once the global setup has run (built or not)", () => {
    expect(Fs.readFileSync(STAMP, "utf8").trim()).toBe(inputsHash(process.cwd()))
    expect(buildDecision(process.cwd()).rebuild).toBe(false)
  })
})
