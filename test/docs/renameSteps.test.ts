// README's "Make it yours" rename steps list every file that holds the service's name, tests
// included: a file that holds it and is not listed (by its path, or a folder of it) fails here.
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import { readReadme, root, section } from "./readme.js"

/** The name, from where the service itself takes it (so this file never holds it, and a rename
 * done by the steps leaves this test checking the new name). */
const serviceName = (): string => {
  const name = Fs.readFileSync(Path.join(root, "src/main.ts"), "utf8").match(/^const service = "([^"]+)"/m)?.[1]
  if (name === undefined) throw new Error("src/main.ts no longer says `const service = \"...\"`: update this test")
  return name
}

/** The repository's own files: git's list, or (in a copy without .git, as check:removable makes)
 * every file but what .gitignore leaves out. */
const ownFiles = (): ReadonlyArray<string> => {
  if (Fs.existsSync(Path.join(root, ".git"))) {
    return execFileSync("git", ["ls-files", "-z"], { cwd: root, encoding: "utf8" }).split("\0").filter((file) => file !== "")
  }
  const ignored = Fs.readFileSync(Path.join(root, ".gitignore"), "utf8").split("\n").map((line) => line.trim().replace(/\/$/, ""))
    .filter((line) => line !== "" && !line.startsWith("#"))
  const skip = (name: string) => name === ".git" || ignored.some((pattern) => pattern.startsWith("*.") ? name.endsWith(pattern.slice(1)) : name === pattern)
  const files: Array<string> = []
  const walk = (folder: string) => {
    for (const entry of Fs.readdirSync(Path.join(root, folder), { withFileTypes: true })) {
      if (skip(entry.name)) continue
      const file = Path.posix.join(folder, entry.name)
      if (entry.isDirectory()) walk(file)
      else if (entry.isFile()) files.push(file)
    }
  }
  walk("")
  return files
}

/** The rename steps: the paragraph that starts with **Rename.**, up to the next bold heading. */
const renameSteps = (markdown: string) => {
  const yours = section(markdown, "## Make it yours")
  const start = yours.indexOf("**Rename.**")
  if (start === -1) throw new Error("README.md's \"Make it yours\" has no **Rename.** steps")
  const end = yours.indexOf("\n**", start + 1)
  return yours.slice(start, end === -1 ? undefined : end)
}

/** Files that are not named in the steps, by their path or a folder of theirs (`deploy/`). */
export const unlisted = (files: ReadonlyArray<string>, steps: string): ReadonlyArray<string> => {
  const named = [...steps.matchAll(/`([^`\s]+)`/g)].map((match) => match[1]!)
  return files.filter((file) => !named.some((path) => path === file || (path.endsWith("/") && file.startsWith(path))))
}

describe("README.md rename steps", () => {
  it("list every file that holds the service's name", () => {
    const name = serviceName()
    const holding = ownFiles().filter((file) => Fs.readFileSync(Path.join(root, file), "utf8").includes(name))
    // The name is where the steps say it is at least: the check is not vacuous.
    expect(holding).toEqual(expect.arrayContaining(["package.json", "src/main.ts", "README.md"]))
    expect(unlisted(holding, renameSteps(readReadme()))).toEqual([])
  })

  it("name a file that holds it and is not listed (so it can fail)", () => {
    const steps = "**Rename.** It is in `package.json`, `deploy/` and `src/main.ts` (`service`)."
    expect(unlisted(["package.json", "deploy/kubernetes/service.yaml", "src/main.ts", "test/process/lifecycle.test.ts", "src/mainly.ts"], steps))
      .toEqual(["test/process/lifecycle.test.ts", "src/mainly.ts"])
  })
})
