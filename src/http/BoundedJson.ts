// JSON from a client (HTTP bodies, WebSocket messages, job payloads) is parsed only after one flat
// scan has checked its nesting depth. Deeply nested input would otherwise reach code that recurses
// (JSON.stringify, Schema, structured clone) and blow the stack: a RangeError, a defect, a 500.
import { Either } from "effect"

/** The deepest nesting of arrays and objects accepted anywhere a client sends JSON. */
export const MAX_JSON_DEPTH = 32

/** The nesting depth of JSON text, counted without recursion; stops counting past `limit`. */
export const depthOf = (text: string, limit = MAX_JSON_DEPTH): number => {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
      continue
    }
    if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b) {
      depth++
      if (depth > deepest) {
        deepest = depth
        if (deepest > limit) return deepest
      }
    } else if (c === 0x7d || c === 0x5d) depth--
  }
  return deepest
}

/** Parses client JSON; Left carries a message fit to send back (it never echoes the input). */
export const parse = (text: string, maxDepth = MAX_JSON_DEPTH): Either.Either<unknown, string> => {
  if (depthOf(text, maxDepth) > maxDepth) return Either.left(`JSON nested deeper than ${maxDepth} levels`)
  try {
    return Either.right(JSON.parse(text))
  } catch {
    return Either.left("invalid JSON")
  }
}
