// Close codes on the wire (RFC 6455 section 7.4.1): the ones this server sends, and the one ws
// sends by itself when a peer breaks the protocol.

export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001, // the server is shutting down
  ProtocolError: 1002, // sent by ws: a malformed frame
  InvalidData: 1007, // sent by ws: a text frame that is not UTF-8
  PolicyViolation: 1008, // slow consumer: it read nothing for the stall window
  TooBig: 1009, // sent by ws: a message over WS_MAX_MESSAGE_BYTES
  InternalError: 1011 // no pong within WS_PONG_TIMEOUT_MS, or a throw inside the session
} as const

/**
 * The close code ws already sent for `error`, or undefined when ws sent nothing. ws closes the
 * connection itself on a protocol error (receiver.js `createError`): the code is kept on the error
 * under a private symbol named "status-code", so it is found by that name.
 */
export const sentByWs = (error: unknown): number | undefined => {
  if (typeof error !== "object" || error === null) return undefined
  const key = Object.getOwnPropertySymbols(error).find((symbol) => symbol.description === "status-code")
  const code = key === undefined ? undefined : (error as Record<symbol, unknown>)[key]
  return typeof code === "number" ? code : undefined
}
