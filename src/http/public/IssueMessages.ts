// A 400's message says where the input is wrong and what was expected, never what was sent.
// Schema's default messages quote the value ("Expected number, actual \"...\""), and some
// transformations quote it too ("Unable to decode \"...\" into a number"): a client's secret
// sent in the wrong field would come back in the response (and in any log that keeps it).
import type { HttpApiError } from "@effect/platform"

type Issue = HttpApiError.HttpApiDecodeError["issues"][number]

/** Longest message kept from one issue; a schema's own description can be long. */
const MAX_ISSUE_CHARS = 300

const expectedOnly = (message: string): string | undefined => {
  const actual = message.indexOf(", actual ")
  return message.startsWith("Expected ") && actual !== -1 ? `expected ${message.slice("Expected ".length, actual)}` : undefined
}

const safeMessage = (issue: Issue): string => {
  switch (issue._tag) {
    case "Missing":
      return issue.message // "is missing", or the schema's own message
    case "Unexpected":
      return "is unexpected"
    case "Forbidden":
      return "is forbidden"
  }
  // What remains is the schema's own message (kept) or one a transformation wrote about the
  // value: those quote it, so a message with a quote in it is not kept.
  return expectedOnly(issue.message) ?? (issue.message.includes("\"") ? "is invalid" : issue.message)
}

const clip = (text: string) => text.length > MAX_ISSUE_CHARS ? `${text.slice(0, MAX_ISSUE_CHARS)}...` : text

/** "ms: must be a non-negative integer; payload: expected ..." */
export const describeIssues = (error: HttpApiError.HttpApiDecodeError): string =>
  error.issues.map((issue) => `${issue.path.length > 0 ? `${clip(issue.path.join("."))}: ` : ""}${clip(safeMessage(issue))}`).join("; ")
