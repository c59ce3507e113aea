// Typechecks the README's TypeScript as the files it says they are: every ```ts block opens with a
// comment naming its path (`// src/echo/EchoApi.ts`), and is compiled at that path over the
// repository (its tsconfig, its node_modules, the other snippets), without writing anything.
import * as Path from "node:path"
import ts from "typescript"
import { type CodeBlock, codeBlocks } from "./readme.js"

export interface Snippet {
  readonly path: string
  readonly block: CodeBlock
}

const isTypeScript = (block: CodeBlock) => block.lang === "ts" || block.lang === "typescript"

/** The path a block names on its first line, or undefined. */
const namedPath = (block: CodeBlock): string | undefined =>
  block.text.split("\n")[0]!.match(/^\/\/\s*((?:[\w.@-]+\/)*[\w.@-]+\.(?:ts|mts|cts))\s*$/)?.[1]

/** Lines that read as TypeScript in a block no check would compile (indented, or a bare fence). */
const looksLikeTypeScript = /^\s*(import .+ from ["']|export (const|class|function|interface|type) |.*\byield\* )/m

export const problemsOf = (markdown: string, root: string): { readonly snippets: ReadonlyArray<Snippet>; readonly problems: Array<string> } => {
  const problems: Array<string> = []
  const snippets: Array<Snippet> = []
  for (const block of codeBlocks(markdown)) {
    if (isTypeScript(block)) {
      const path = namedPath(block)
      if (path === undefined) problems.push(`README.md:${block.line}: a ts block must open with a comment naming its file, e.g. "// src/x/X.ts"`)
      else if (snippets.some((other) => other.path === path)) problems.push(`README.md:${block.line}: ${path} is named by two ts blocks`)
      else snippets.push({ path, block })
    } else if ((block.lang === "indented" || block.lang === "") && looksLikeTypeScript.test(block.text)) {
      // A fence labelled with another language (```text for Effect 4's API, say) is the author saying
      // it is not this repository's TypeScript; an unlabelled or indented block says nothing.
      problems.push(`README.md:${block.line}: TypeScript outside a \`\`\`ts block is never compiled: fence it as ts and name its file`)
    }
  }
  problems.push(...compile(snippets, root))
  return { snippets, problems }
}

const compile = (snippets: ReadonlyArray<Snippet>, root: string): Array<string> => {
  if (snippets.length === 0) return []
  const configPath = Path.join(root, "tsconfig.json")
  const config = ts.parseJsonConfigFileContent(ts.readConfigFile(configPath, ts.sys.readFile).config, ts.sys, root)
  const files = new Map(snippets.map((snippet) => [Path.join(root, snippet.path), snippet]))
  const folders = new Set([...files.keys()].flatMap((file) => {
    const all: Array<string> = []
    for (let folder = Path.dirname(file); folder.startsWith(root) && folder !== root; folder = Path.dirname(folder)) all.push(folder)
    return all
  }))
  const host = ts.createCompilerHost(config.options)
  const { fileExists, readFile, getSourceFile, directoryExists } = host
  host.fileExists = (file) => files.has(Path.resolve(file)) || fileExists.call(host, file)
  host.readFile = (file) => files.get(Path.resolve(file))?.block.text ?? readFile.call(host, file)
  host.directoryExists = (folder) => folders.has(Path.resolve(folder)) || (directoryExists?.call(host, folder) ?? ts.sys.directoryExists(folder))
  host.getSourceFile = (file, language, onError, shouldCreate) => {
    const snippet = files.get(Path.resolve(file))
    return snippet === undefined
      ? getSourceFile.call(host, file, language, onError, shouldCreate)
      : ts.createSourceFile(file, snippet.block.text, language, true)
  }
  const program = ts.createProgram({ rootNames: [...files.keys()], options: config.options, host })
  // Only the snippets' own diagnostics: the repository's files are `tsc --noEmit`'s to check, and
  // checking just these keeps the compiler from checking every body of src/ they reach.
  const diagnostics = [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...[...files.keys()].flatMap((file) => {
      const source = program.getSourceFile(file)!
      return [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]
    })
  ]
  return diagnostics.map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")
    const file = diagnostic.file
    if (file === undefined || diagnostic.start === undefined) return `TS${diagnostic.code}: ${message}`
    const { line, character } = file.getLineAndCharacterOfPosition(diagnostic.start)
    const snippet = files.get(Path.resolve(file.fileName))
    const where = snippet === undefined
      ? `${Path.relative(root, file.fileName)}:${line + 1}`
      : `README.md:${snippet.block.line + line} (${snippet.path}:${line + 1}:${character + 1})`
    return `${where}: TS${diagnostic.code}: ${message}`
  })
}
