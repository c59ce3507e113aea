// The README's "Effect 4" section must not drift from the code without anyone noticing. It must sit
// just before "Scripts". It must name the published v4 versions it was checked against, and the 3.x
// versions and Node range we pin (read from package.json, so an upgrade that forgets the section fails
// here). It must hold no ts block (another test typechecks those). Its module table must have exactly
// one row per module in src/lifecycle/, at the top level of src/http/ and in src/http/server/. So a
// new core module without a v4 mapping fails here, and so does a row for a module that is gone.
import * as Fs from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"

const readme = Fs.readFileSync("README.md", "utf8")
const pkg = JSON.parse(Fs.readFileSync("package.json", "utf8")) as {
  readonly dependencies: Record<string, string>
  readonly engines: { readonly node: string }
}

/** The `## ` headings of the README, in order, with fenced blocks skipped. */
const headings = (() => {
  const found: Array<{ readonly title: string; readonly line: number }> = []
  let fenced = false
  readme.split("\n").forEach((text, line) => {
    if (text.startsWith("```")) fenced = !fenced
    else if (!fenced && text.startsWith("## ")) found.push({ title: text.slice(3).trim(), line })
  })
  return found
})()

/** The lines of the `## title` section, its heading excluded. */
const section = (title: string): ReadonlyArray<string> => {
  const index = headings.findIndex((heading) => heading.title === title)
  if (index === -1) return []
  const lines = readme.split("\n")
  return lines.slice(headings[index]!.line + 1, headings[index + 1]?.line ?? lines.length)
}

const effect4 = section("Effect 4")
const effect4Text = effect4.join("\n")

/** Rows of the table under `### title` whose first cell is a backticked path. */
const moduleRows = (title: string) => {
  const start = effect4.indexOf(`### ${title}`)
  if (start === -1) return []
  const rows: Array<{ readonly path: string; readonly cells: ReadonlyArray<string> }> = []
  for (const line of effect4.slice(start + 1)) {
    if (line.startsWith("### ")) break
    const row = /^\| `([^`]+)` \|(.*)\|$/.exec(line)
    if (row === null) continue
    rows.push({ path: row[1]!, cells: row[2]!.split("|").map((cell) => cell.trim()) })
  }
  return rows
}

/** The TypeScript modules directly in `dir` (not in its subfolders). */
const modulesIn = (dir: string) =>
  Fs.readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => Path.posix.join(dir, entry.name))

describe("README: Effect 4", () => {
  it("is a section of its own, just before Scripts", () => {
    const titles = headings.map((heading) => heading.title)
    expect(titles).toContain("Effect 4")
    expect(titles[titles.indexOf("Effect 4") + 1]).toBe("Scripts")
  })

  it("names the published v4 packages and files it was checked against", () => {
    expect(effect4Text).toMatch(/\beffect@4\.\d+\.\d+/)
    expect(effect4Text).toMatch(/@effect\/platform-node@4\.\d+\.\d+/)
    expect(effect4Text).toContain("src/NodeHttpServer.ts")
    expect(effect4Text).toMatch(/"node": ">=\d+\.\d+\.\d+"/)
  })

  it("names the 3.x versions and the Node range this template pins", () => {
    for (const name of ["effect", "@effect/platform", "@effect/platform-node"]) {
      expect(effect4Text, `${name}@${pkg.dependencies[name]}`).toContain(`${name}@${pkg.dependencies[name]}`)
    }
    expect(effect4Text).toContain(pkg.engines.node)
  })

  it("has no ts code block (README ts blocks are typechecked; this section quotes v4 code as text)", () => {
    expect(effect4Text).not.toMatch(/```(ts|typescript|tsx)\b/)
  })

  it("maps every module in src/lifecycle/, at the top level of src/http/ and in src/http/server/ to v4, and no module that is gone", () => {
    const rows = moduleRows("Our modules on v4")
    const modules = [...modulesIn("src/lifecycle"), ...modulesIn("src/http"), ...modulesIn("src/http/server")].sort()
    expect(rows.map((row) => row.path).sort()).toEqual(modules)
    for (const row of rows) {
      expect(row.cells, row.path).toHaveLength(2)
      // What the module does, and what becomes of it on v4: both said in words, not left blank.
      expect(row.cells[0]!.length, `${row.path}: what it does`).toBeGreaterThan(10)
      expect(row.cells[1]!.length, `${row.path}: on v4`).toBeGreaterThan(10)
    }
  })
})
