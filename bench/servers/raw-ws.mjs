// Baseline for the WebSocket figures: node:http + ws, echoing every text frame.
import http from "node:http"
import { WebSocketServer } from "ws"

const server = http.createServer((req, res) => {
  res.writeHead(200, { "content-type": "application/json" })
  res.end('{"status":"ok"}')
})
const wss = new WebSocketServer({ server, path: "/ws" })
wss.on("connection", (ws) => ws.on("message", (data) => ws.send(data.toString())))
server.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ message: "listening", port: server.address().port })))
process.on("SIGTERM", () => {
  for (const ws of wss.clients) ws.terminate()
  server.close(() => process.exit(0))
  server.closeAllConnections()
})
