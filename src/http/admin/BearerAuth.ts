// `Authorization: Bearer <token>` checked in constant time. Both sides are hashed first, so the
// comparison takes the same time whatever the length or content of the candidate.
import { createHash, timingSafeEqual } from "node:crypto"

const digest = (value: string) => createHash("sha256").update(value, "utf8").digest()

export const bearerMatches = (header: string | undefined, token: string): boolean => {
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header)
  const candidate = match?.[1] ?? ""
  // Always compare, even for a missing header: no early return to time.
  const equal = timingSafeEqual(digest(candidate), digest(token))
  return equal && match !== null
}
