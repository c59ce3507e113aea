// RequestHandler (src/http/server/RequestHandler.ts) replaces platform-node's makeHandler: what
// the platform's per-request wrapping gave an app must still hold. A real node server, real
// requests; the app is given directly (no lifecycle), so each test sees the handler alone.
import { HttpApp, HttpServerError, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Equal, Exit, HashSet, Stream } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { onTestFinished } from "vitest"
import * as RequestHandler from "../../src/http/server/RequestHandler.js"

const TEST_TIMEOUT = 20_000

const serve = async (app: HttpApp.Default<never, never>) => {
  const handler = await Effect.runPromise(RequestHandler.make(app))
  const server = Http.createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  onTestFinished(() => {
    server.closeAllConnections()
    server.close()
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe("RequestHandler: the platform's per-request guarantees without its wrapping", () => {
  it("answers with the app's response: status, headers, cookies, body; HEAD without a body", async () => {
    const url = await serve(HttpServerResponse.text("hello", { status: 201, headers: { "x-a": "1" } }).pipe(
      HttpServerResponse.setCookies([["c", "v"]]),
      Effect.orDie
    ))
    const got = await fetch(url)
    expect(got.status).toBe(201)
    expect(got.headers.get("x-a")).toBe("1")
    expect(got.headers.get("set-cookie")).toBe("c=v")
    expect(await got.text()).toBe("hello")
    const head = await fetch(url, { method: "HEAD" })
    expect(head.status).toBe(201)
    expect(await head.text()).toBe("")
  }, TEST_TIMEOUT)

  it("the request object is the platform's: NodeHttpServerRequest reads its node request and response", async () => {
    const url = await serve(Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
      HttpServerResponse.text(
        `${NodeHttpServerRequest.toIncomingMessage(request).url} ${NodeHttpServerRequest.toServerResponse(request).headersSent}`
      )))
    expect(await (await fetch(`${url}/x?y=1`)).text()).toBe("/x?y=1 false")
  }, TEST_TIMEOUT)

  it("a pre-response handler the request added is applied to its answer", async () => {
    const url = await serve(Effect.zipRight(
      HttpApp.appendPreResponseHandler((_request, response) => Effect.succeed(HttpServerResponse.setHeader(response, "x-pre", "yes"))),
      Effect.succeed(HttpServerResponse.empty({ status: 204 }))
    ))
    expect((await fetch(url)).headers.get("x-pre")).toBe("yes")
  }, TEST_TIMEOUT)

  it("a request that asks for a Scope has it closed once its response is written", async () => {
    const closed: Array<boolean> = []
    const url = await serve(Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const response = NodeHttpServerRequest.toServerResponse(request)
      yield* Effect.addFinalizer(() => Effect.sync(() => closed.push(response.writableEnded)))
      return HttpServerResponse.text("scoped")
    }) as never)
    expect(await (await fetch(url)).text()).toBe("scoped")
    expect(await (await fetch(url)).text()).toBe("scoped")
    // Run after the write, once per request.
    expect(closed).toEqual([true, true])
  }, TEST_TIMEOUT)

  it("a stream body is streamed", async () => {
    const url = await serve(Effect.succeed(HttpServerResponse.stream(
      Stream.make("a", "b", "c").pipe(Stream.encodeText)
    )))
    expect(await (await fetch(url)).text()).toBe("abc")
  }, TEST_TIMEOUT)

  it("a response Node refuses to write (an invalid header) is an empty 500", async () => {
    const url = await serve(Effect.succeed(HttpServerResponse.text("x", { headers: { "x-bad": "a\nb" } })))
    const got = await fetch(url)
    expect(got.status).toBe(500)
    expect(await got.text()).toBe("")
  }, TEST_TIMEOUT)

  it("the client going away interrupts the request fiber with the platform's clientAbortFiberId", async () => {
    const interrupted = Effect.runSync(Deferred.make<boolean>())
    const started = Effect.runSync(Deferred.make<void>())
    const url = await serve(Effect.zipRight(Deferred.succeed(started, undefined), Effect.never).pipe(
      Effect.interruptible,
      Effect.onExit((exit) =>
        Deferred.succeed(
          interrupted,
          Exit.isFailure(exit) && HashSet.some(Cause.interruptors(exit.cause), (id) => Equal.equals(id, HttpServerError.clientAbortFiberId))
        )
      )
    ))
    const controller = new AbortController()
    const pending = fetch(url, { signal: controller.signal }).catch(() => undefined)
    await Effect.runPromise(Deferred.await(started))
    controller.abort()
    await pending
    expect(await Effect.runPromise(Deferred.await(interrupted))).toBe(true)
  }, TEST_TIMEOUT)
})
