// The README's runnable examples: every `curl` or `node -e` line (a leading `$ ` and a trailing
// `# comment` dropped) that talks to the service on its default ports.
import { codeBlocks } from "./readme.js"
import type { Port } from "./routes.js"

export const DEFAULT_PORTS: Record<number, Port> = { 8080: "public", 9090: "admin" }

export interface Example {
  readonly line: number
  readonly command: string
  readonly words: ReadonlyArray<string>
  readonly port: Port
  /** An HTTP method, or "WS" for a WebSocket example. */
  readonly method: string
  readonly path: string
}

/** POSIX-shell words without expansion; stops at an unquoted `#` that starts a word. */
export const shellWords = (command: string): Array<string> => {
  const words: Array<string> = []
  let word: string | undefined
  for (let i = 0; i < command.length; i++) {
    const char = command[i]!
    if (char === "'" || char === "\"") {
      const end = command.indexOf(char, i + 1)
      if (end === -1) throw new Error(`unbalanced ${char} in: ${command}`)
      word = (word ?? "") + command.slice(i + 1, end)
      i = end
    } else if (/\s/.test(char)) {
      if (word !== undefined) words.push(word)
      word = undefined
    } else if (char === "#" && word === undefined) {
      break
    } else {
      word = (word ?? "") + char
    }
  }
  if (word !== undefined) words.push(word)
  return words
}

const urlPattern = /\b(?:(https?|wss?):\/\/)?(?:localhost|127\.0\.0\.1):(\d+)(\/[^\s'"?#)]*)?/

const methodOf = (words: ReadonlyArray<string>): string => {
  const explicit = words.findIndex((word) => word === "-X" || word === "--request")
  if (explicit !== -1) return words[explicit + 1]!.toUpperCase()
  if (words.some((word) => word === "-I" || word === "--head")) return "HEAD"
  return words.some((word) => /^(-d|--data.*|--json|-F|--form)$/.test(word)) ? "POST" : "GET"
}

export const examples = (markdown: string): ReadonlyArray<Example> =>
  codeBlocks(markdown).flatMap((block) =>
    block.text.split("\n").flatMap((text, index): Array<Example> => {
      const command = text.trim().replace(/^\$\s+/, "")
      if (!/^(curl|node -e) /.test(command)) return []
      const url = command.match(urlPattern)
      const port = url === null ? undefined : DEFAULT_PORTS[Number(url[2])]
      if (url === null || port === undefined) return []
      const words = shellWords(command)
      const ws = url[1] === "ws" || url[1] === "wss"
      return [{ line: block.line + index, command, words, port, method: ws ? "WS" : methodOf(words), path: url[3] ?? "/" }]
    })
  )
