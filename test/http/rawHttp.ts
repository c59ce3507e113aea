// Raw HTTP/1.1 requests for hostile-input tests: exact bytes on a fresh socket, one response back.
import { Effect } from "effect"
import { expect } from "vitest"
import { RawConnection, type RawResponse } from "../support/RawConnection.js"

/** A value a client might send by mistake in the wrong place: it must never come back. */
export const SECRET = "SECRET-abc"

export const json = { "content-type": "application/json" } as const

/** One request as bytes; Content-Length is computed unless `headers` sets it. */
export const request = (method: string, target: string, headers: Record<string, string> = {}, body?: string | Buffer) => {
  const length = body === undefined || "content-length" in headers ? {} : { "content-length": String(Buffer.byteLength(body)) }
  const head = Object.entries({ host: "test", ...length, ...headers }).map(([name, value]) => `${name}: ${value}\r\n`).join("")
  return Buffer.concat([Buffer.from(`${method} ${target} HTTP/1.1\r\n${head}\r\n`, "latin1"), Buffer.from(body ?? "")])
}

/** `depth` arrays around `inner`. */
export const nested = (depth: number, inner = "0") => "[".repeat(depth) + inner + "]".repeat(depth)

/** Writes `bytes` on a new connection and reads the first response. */
export const exchange = (port: number, bytes: Buffer) =>
  Effect.promise(async (): Promise<RawResponse> => {
    const connection = await RawConnection.open(port)
    connection.socket.write(bytes)
    return connection.nextResponse()
  })

/** The response is `status` with exactly {"error": error, "message": string} and no SECRET. */
export const expectErrorBody = (response: RawResponse, status: number, error: string) => {
  expect(response.status).toBe(status)
  expect(response.headers["content-type"]).toBe("application/json")
  const body = JSON.parse(response.body)
  expect(Object.keys(body).sort()).toEqual(["error", "message"])
  expect(body).toEqual({ error, message: expect.any(String) })
  expect(response.body).not.toContain(SECRET)
  return body as { error: string; message: string }
}
