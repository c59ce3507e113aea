// Baseline for the WebSocket figures: node:http + ws, echoing every text frame, or broadcasting it.
import http from "node:http"
import { WebSocketServer } from "ws"

const server = http.createServer((req, res) => {
  res.writeHead(200, { "content-type": "application/json" })
  res.end('{"status":"ok"}')
})
const wss = new WebSocketServer({ server, path: "/ws" })
// A frame starting "broadcast " goes to every client (the broadcast figure); any other is echoed.
wss.on("connection", (ws) =>
  ws.on("message", (data) => {
    const text = data.toString()
    if (!text.startsWith("broadcast ")) return ws.send(text)
    for (const client of wss.clients) client.send(text)
  }))
server.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ message: "listening", port: server.address().port })))
process.on("SIGTERM", () => {
  for (const ws of wss.clients) ws.terminate()
  server.close(() => process.exit(0))
  server.closeAllConnections()
})
