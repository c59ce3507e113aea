// Reading README.md the way a newcomer does: its code blocks, where each starts, and its sections.
// The docs tests check what the README shows against the repository, so the README cannot rot.
import * as Fs from "node:fs"
import * as Path from "node:path"

export const root = Path.resolve(import.meta.dirname, "../..")

export const readReadme = (): string => Fs.readFileSync(Path.join(root, "README.md"), "utf8")

export interface CodeBlock {
  /** The fence's info string (`ts`, `sh`, ...); "" for an unlabelled fence; "indented" for a
   * block of lines indented four spaces or more. */
  readonly lang: string
  /** 1-based README line of the block's first content line. */
  readonly line: number
  readonly text: string
}

/** Fenced blocks (their fence may be indented, as inside a list item), then indented blocks. */
export const codeBlocks = (markdown: string): ReadonlyArray<CodeBlock> => {
  const lines = markdown.split("\n")
  const blocks: Array<CodeBlock> = []
  let fence: { readonly marker: string; readonly indent: number; readonly lang: string; readonly line: number; body: Array<string> } | undefined
  let indented: { readonly line: number; body: Array<string> } | undefined
  const endIndented = () => {
    if (indented !== undefined) blocks.push({ lang: "indented", line: indented.line, text: indented.body.join("\n") })
    indented = undefined
  }
  lines.forEach((text, index) => {
    if (fence !== undefined) {
      if (text.trim() === fence.marker) {
        blocks.push({ lang: fence.lang, line: fence.line, text: fence.body.join("\n") })
        fence = undefined
      } else {
        fence.body.push(text.slice(Math.min(fence.indent, text.length - text.trimStart().length)))
      }
      return
    }
    const opening = text.match(/^(\s*)(`{3,}|~{3,})\s*([\w+-]*)/)
    if (opening !== null) {
      endIndented()
      fence = { marker: opening[2]!, indent: opening[1]!.length, lang: opening[3]!.toLowerCase(), line: index + 2, body: [] }
      return
    }
    if (/^ {4,}\S/.test(text)) {
      indented ??= { line: index + 1, body: [] }
      indented.body.push(text.replace(/^ {4}/, ""))
    } else if (text.trim() === "" && indented !== undefined) {
      indented.body.push("")
    } else {
      endIndented()
    }
  })
  endIndented()
  return blocks
}

/** The text of a `## `/`### ` section, up to the next heading of the same or a higher level. */
export const section = (markdown: string, heading: string): string => {
  const lines = markdown.split("\n")
  const start = lines.findIndex((line) => line.trim() === heading)
  if (start === -1) throw new Error(`README.md has no heading "${heading}"`)
  const level = heading.match(/^#+/)![0].length
  const end = lines.findIndex((line, index) => index > start && /^#+ /.test(line) && line.match(/^#+/)![0].length <= level)
  return lines.slice(start, end === -1 ? undefined : end).join("\n")
}
