// Node's own request timeout is a backstop behind ours: it must never answer a request our timer
// is answering (a bare 408 on a socket that already carries our 503).
import { describe, expect, it } from "@effect/vitest"
import * as Http from "node:http"
import { HEADERS_TIMEOUT_MS, LINGER_MS, nodeRequestTimeoutMs, nodeServerOptions } from "../../src/http/NodeLimits.js"

describe("NodeLimits", () => {
  for (const requestTimeoutMs of [100, 30_000, 600_000]) {
    it(`REQUEST_TIMEOUT_MS=${requestTimeoutMs}: Node's request timeout fires only after ours answered and lingered`, () => {
      // Node starts its clock at the first header byte, ours once the head is complete.
      expect(nodeRequestTimeoutMs(requestTimeoutMs)).toBeGreaterThan(HEADERS_TIMEOUT_MS + requestTimeoutMs + LINGER_MS)
      // Node refuses a headersTimeout above requestTimeout: any configured timeout must build.
      const server = Http.createServer(nodeServerOptions(requestTimeoutMs))
      expect(server.requestTimeout).toBe(nodeRequestTimeoutMs(requestTimeoutMs))
      expect(server.headersTimeout).toBe(HEADERS_TIMEOUT_MS)
      server.close()
    })
  }
})
