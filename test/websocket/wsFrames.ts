// Raw WebSocket frames as a client sends them (masked), for bytes the `ws` client would never
// send itself: many frames in one TCP write, invalid UTF-8, protocol violations.
import type * as Net from "node:net"
import type WebSocket from "ws"

export const Opcode = { Text: 0x1, Binary: 0x2, Reserved: 0x3 } as const

/** One final frame; `masked: false` breaks the protocol (a client must mask). */
export const frame = (opcode: number, payload: Buffer | string, options: { readonly masked?: boolean } = {}): Buffer => {
  const body = typeof payload === "string" ? Buffer.from(payload, "utf8") : payload
  const masked = options.masked ?? true
  const maskBit = masked ? 0x80 : 0
  let header: Buffer
  if (body.length < 126) header = Buffer.from([0x80 | opcode, maskBit | body.length])
  else if (body.length < 65_536) {
    header = Buffer.from([0x80 | opcode, maskBit | 126, 0, 0])
    header.writeUInt16BE(body.length, 2)
  } else {
    header = Buffer.alloc(10)
    header[0] = 0x80 | opcode
    header[1] = maskBit | 127
    header.writeBigUInt64BE(BigInt(body.length), 2)
  }
  // A zero masking key leaves the payload as it is: legal, and keeps the bytes readable.
  return Buffer.concat(masked ? [header, Buffer.alloc(4), body] : [header, body])
}

/** The TCP socket under a `ws` client: bytes written here reach the server in one write. */
export const rawSocket = (ws: WebSocket): Net.Socket => (ws as unknown as { _socket: Net.Socket })._socket
