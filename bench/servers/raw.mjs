// Baseline: raw node:http with the same routes the figures use.
import http from "node:http"

const json = (res, status, body) => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
  res.end(text)
}
const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://x")
  if (url.pathname === "/healthz") return json(res, 200, { status: "ok" })
  if (url.pathname === "/sleep") {
    const ms = Number(url.searchParams.get("ms"))
    return void setTimeout(() => json(res, 200, { sleptMs: ms }), ms)
  }
  json(res, 404, { error: "NotFound", message: "no such route" })
})
server.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ message: "listening", port: server.address().port })))
process.on("SIGTERM", () => {
  server.close(() => process.exit(0))
  server.closeIdleConnections()
})
