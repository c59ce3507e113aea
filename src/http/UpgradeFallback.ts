// A request with `Connection: Upgrade` that nobody upgrades (h2c from `curl --http2`, a WebSocket
// handshake on another path) is an ordinary HTTP request and is served as one.
//
// Node 20 sends every request carrying Connection: Upgrade to the server's `upgrade` event once
// a listener exists, and detaches its parser from the socket first. To serve it with the same
// parser, limits, keep-alive and request pipeline as any other request, the request head is
// written back in front of the bytes that followed it, without its upgrade tokens, and the socket
// is handed to the server again as a new connection. (Node 24's shouldUpgradeCallback option makes
// this unnecessary.)
import type * as Http from "node:http"
import type { Duplex } from "node:stream"

/** The request head as the client sent it, minus `Upgrade` and the `upgrade` token of `Connection`. */
export const plainRequestHead = (request: Http.IncomingMessage): Buffer => {
  const lines = [`${request.method} ${request.url} HTTP/${request.httpVersion}`]
  const raw = request.rawHeaders
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!
    const value = raw[i + 1]!
    const lower = name.toLowerCase()
    if (lower === "upgrade") continue
    if (lower === "connection") {
      const tokens = value.split(",").map((token) => token.trim()).filter((token) => token !== "" && token.toLowerCase() !== "upgrade")
      if (tokens.length > 0) lines.push(`${name}: ${tokens.join(", ")}`)
      continue
    }
    lines.push(`${name}: ${value}`)
  }
  // Node decoded header bytes as latin1: encoding back the same way gives the client's bytes.
  return Buffer.from(lines.join("\r\n") + "\r\n\r\n", "latin1")
}

/** Serves `request` as a plain request on its socket (Node's parser takes the socket again). */
export const serveAsPlainRequest = (server: Http.Server, request: Http.IncomingMessage, socket: Duplex, head: Buffer) => {
  socket.unshift(Buffer.concat([plainRequestHead(request), head]))
  server.emit("connection", socket)
}
