// Every TypeScript snippet in README.md compiles, as the file it names, against this repository.
import { describe, expect, it } from "vitest"
import { readReadme, root } from "./readme.js"
import { problemsOf } from "./snippets.js"

describe("README.md TypeScript snippets", () => {
  it("each ts block names its file and typechecks there (with the repo's tsconfig)", () => {
    const { snippets, problems } = problemsOf(readReadme(), root)
    expect(problems).toEqual([])
    // The README teaches with them: the three files of "add an endpoint", the interruption test.
    expect(snippets.length).toBeGreaterThanOrEqual(4)
  }, 180_000)

  it("fails a block that does not compile, one that names no file, and TypeScript left unfenced", () => {
    const broken = [
      "```ts",
      "// test/docs-example/broken.ts",
      "export const n: number = \"not a number\"",
      "```",
      "",
      "```ts",
      "export const unnamed = 1",
      "```",
      "",
      "       export const indented = yield* somewhere",
      ""
    ].join("\n")
    const { problems } = problemsOf(broken, root)
    expect(problems).toEqual([
      "README.md:7: a ts block must open with a comment naming its file, e.g. \"// src/x/X.ts\"",
      "README.md:10: TypeScript outside a ```ts block is never compiled: fence it as ts and name its file",
      expect.stringMatching(/^README\.md:3 \(test\/docs-example\/broken\.ts:2:14\): TS2322: Type 'string' is not assignable to type 'number'/)
    ])
  }, 180_000)
})
