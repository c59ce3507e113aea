/**
 * The node request handler that runs an app once per request: platform-node's makeHandler, minus
 * its per-request wrapping (issue 21). Per request the platform provides the request as a second
 * context over the fiber's (two FiberRefs copies and a Context copy), opens and closes a Scope,
 * runs HttpApp.toHandled's uninterruptible region, catchAllCause and tracer-middleware check, and
 * waits for the write callback of even an empty body. Here the request's context is built once
 * (the runtime's context, the request, a Scope, and what the app's wrapper prepares: the server
 * span) and the fiber is forked with it directly, starting
 * uninterruptible (the app is expected to mark its own interruptible region, as
 * RequestLifecycle's does); a body in memory is written synchronously and the fiber ends.
 * What stays the platform's, unchanged: its request class (body parsing, multipart, cookies,
 * NodeHttpServerRequest.toIncomingMessage/toServerResponse), the client-abort interruption
 * (clientAbortFiberId when the response closes before its end), the pre-response handlers, and
 * a stream or piped body's writing (copied from its handleResponse, which is not exported).
 * The Scope is real only once something in the request asks for one (multipart does): it is
 * closed after the response is written, as the platform's is.
 * Owns: nothing beyond each request's Scope, closed when its response is written.
 * Does not own: the request fibers (the app's lifecycle puts them in the server's FiberSet).
 * Released when: a request's Scope, once its response is written (or its body failed).
 */
import { Cookies, HttpApp, HttpMiddleware, HttpServerError, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Cause, Chunk, Context, Deferred, Effect, ExecutionStrategy, Exit, type Fiber, Runtime, RuntimeFlags, Scope, Stream } from "effect"
import { pipeArguments } from "effect/Pipeable"
import { EventEmitter } from "node:events"
import type * as Http from "node:http"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"

type RequestClass = new(source: Http.IncomingMessage, response: Http.ServerResponse) => HttpServerRequest.HttpServerRequest

/** platform-node's request class (not exported): taken from the request its own handler builds
 * for a stub exchange whose response is already ended (so nothing is written). */
const platformRequestClass = Effect.gen(function*() {
  const found = yield* Deferred.make<RequestClass>()
  const capture = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    Effect.as(Deferred.succeed(found, request.constructor as RequestClass), HttpServerResponse.empty()))
  const handler = yield* NodeHttpServer.makeHandler(capture).pipe(HttpMiddleware.withTracerDisabledWhenEffect(() => true))
  const stubResponse = Object.assign(new EventEmitter(), { writableEnded: true, headersSent: true })
  handler({ url: "/", method: "GET", headers: {} } as Http.IncomingMessage, stubResponse as unknown as Http.ServerResponse)
  return yield* Deferred.await(found)
})

/** A Scope that becomes one (Scope.make) the first time it is used: a request that never asks
 * for it costs an object, not a scope to open and close. */
class LazyScope implements Scope.CloseableScope {
  readonly [Scope.ScopeTypeId]: Scope.ScopeTypeId = Scope.ScopeTypeId
  readonly [Scope.CloseableScopeTypeId]: Scope.CloseableScopeTypeId = Scope.CloseableScopeTypeId
  readonly strategy = ExecutionStrategy.sequential
  real: Scope.CloseableScope | undefined = undefined
  private made(): Effect.Effect<Scope.CloseableScope> {
    return this.real === undefined ? Effect.map(Scope.make(), (scope) => this.real ??= scope) : Effect.succeed(this.real)
  }
  fork(strategy: ExecutionStrategy.ExecutionStrategy) {
    return Effect.flatMap(Effect.suspend(() => this.made()), (scope) => Scope.fork(scope, strategy))
  }
  addFinalizer(finalizer: (exit: Exit.Exit<unknown, unknown>) => Effect.Effect<void>) {
    return Effect.flatMap(Effect.suspend(() => this.made()), (scope) => Scope.addFinalizerExit(scope, finalizer))
  }
  close(exit: Exit.Exit<unknown, unknown>) {
    return Effect.suspend(() => this.real === undefined ? Effect.void : Scope.close(this.real, exit))
  }
  pipe() {
    return pipeArguments(this, arguments)
  }
}

const headersOf = (response: HttpServerResponse.HttpServerResponse): Record<string, string | Array<string>> => {
  if (Cookies.isEmpty(response.cookies)) return response.headers
  const headers: Record<string, string | Array<string>> = { ...response.headers }
  const toSet = Cookies.toSetCookieHeaders(response.cookies)
  if (headers["set-cookie"] !== undefined) toSet.push(headers["set-cookie"] as string)
  headers["set-cookie"] = toSet
  return headers
}

/** A body that failed half-way: the platform's handleCause (a 500 if nothing was sent, the end). */
const abandon = (nodeResponse: Http.ServerResponse) => (cause: Cause.Cause<unknown>) =>
  Effect.suspend(() => {
    if (!nodeResponse.headersSent) nodeResponse.writeHead(500)
    if (!nodeResponse.writableEnded) nodeResponse.end()
    // As the platform's handler leaves it: a failed request fiber, reported at debug level
    // (an interrupted one, a client gone mid-body, not at all).
    return Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logDebug("the response could not be written", cause)
  })

const writeStream = (nodeResponse: Http.ServerResponse, stream: Stream.Stream<Uint8Array, unknown>) => {
  const drainLatch = Effect.unsafeMakeLatch()
  nodeResponse.on("drain", () => drainLatch.unsafeOpen())
  return stream.pipe(
    Stream.orDie,
    Stream.runForEachChunk((chunk) => {
      const array = Chunk.toReadonlyArray(chunk)
      if (array.length === 0) return Effect.void
      let needDrain = false
      for (let i = 0; i < array.length; i++) {
        const written = nodeResponse.write(array[i])
        if (!written && !needDrain) {
          needDrain = true
          drainLatch.unsafeClose()
        } else if (written && needDrain) {
          needDrain = false
        }
      }
      return needDrain ? drainLatch.await : Effect.void
    }),
    Effect.interruptible,
    Effect.matchCauseEffect({ onSuccess: () => Effect.sync(() => void nodeResponse.end()), onFailure: abandon(nodeResponse) })
  )
}

/** platform-node's handleResponse, except that a body in memory is written without waiting for
 * Node's callback: the fiber has nothing left to do once it is handed to the socket. */
const write = (request: HttpServerRequest.HttpServerRequest, nodeResponse: Http.ServerResponse, response: HttpServerResponse.HttpServerResponse): Effect.Effect<void> => {
  if (nodeResponse.writableEnded) return Effect.void
  const headers = headersOf(response)
  if (request.method === "HEAD") {
    nodeResponse.writeHead(response.status, headers)
    nodeResponse.end()
    return Effect.void
  }
  const body = response.body
  switch (body._tag) {
    case "Empty":
      nodeResponse.writeHead(response.status, headers)
      nodeResponse.end()
      return Effect.void
    case "Uint8Array":
      nodeResponse.writeHead(response.status, headers)
      nodeResponse.end(body.body)
      return Effect.void
    case "Raw": {
      nodeResponse.writeHead(response.status, headers)
      const raw = body.body as { pipe?: unknown } | null
      if (typeof raw === "object" && raw !== null && typeof raw.pipe === "function") {
        return Effect.tryPromise({
          try: (signal) => pipeline(raw as unknown as NodeJS.ReadableStream, nodeResponse, { signal, end: true }),
          catch: (cause) => new HttpServerError.ResponseError({ request, response, reason: "Decode", cause })
        }).pipe(Effect.interruptible, Effect.catchAllCause(abandon(nodeResponse)))
      }
      nodeResponse.end(body.body)
      return Effect.void
    }
    case "FormData": {
      const web = new Response(body.formData)
      nodeResponse.writeHead(response.status, { ...headers, ...Object.fromEntries(web.headers) })
      return Effect.async<void, HttpServerError.ResponseError>((resume, signal) => {
        Readable.fromWeb(web.body as Parameters<typeof Readable.fromWeb>[0], { signal })
          .pipe(nodeResponse)
          .on("error", (cause) => resume(Effect.fail(new HttpServerError.ResponseError({ request, response, reason: "Decode", cause }))))
          .once("finish", () => resume(Effect.void))
        // A socket that died first never finishes: the response's close ends the wait too.
        nodeResponse.once("close", () => resume(Effect.void))
      }).pipe(Effect.interruptible, Effect.catchAllCause(abandon(nodeResponse)))
    }
    case "Stream":
      nodeResponse.writeHead(response.status, headers)
      return writeStream(nodeResponse, body.stream)
  }
}

/** A write that throws (a header Node refuses) becomes an empty 500 if nothing went out yet, as
 * the platform's catchAllCause makes it. */
const writeSafely = (request: HttpServerRequest.HttpServerRequest, nodeResponse: Http.ServerResponse, response: HttpServerResponse.HttpServerResponse): Effect.Effect<void> => {
  try {
    return write(request, nodeResponse, response)
  } catch (error) {
    return abandon(nodeResponse)(Cause.die(error))
  }
}

/** The answer written, after the pre-response handlers if the request added any. */
const answer = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  request: HttpServerRequest.HttpServerRequest,
  nodeResponse: Http.ServerResponse,
  response: HttpServerResponse.HttpServerResponse
): Effect.Effect<void> => {
  const handlers = fiber.getFiberRef(HttpApp.currentPreResponseHandlers)
  if (handlers._tag === "None") return writeSafely(request, nodeResponse, response)
  return Effect.matchCauseEffect(handlers.value(request, response), {
    onFailure: abandon(nodeResponse),
    onSuccess: (handled) => Effect.suspend(() => writeSafely(request, nodeResponse, handled))
  })
}

/** What is added to a request's context before its fiber starts, made once per handler from the
 * runtime the handler runs requests with: the server span (RequestLifecycle.serverSpanFor), the
 * route the request will match (ApiRouter). Adding it here puts it in the one context the handler
 * builds anyway; the fiber would otherwise copy its context (and its FiberRefs) again for each. */
export type Prepare = (runtime: Runtime.Runtime<never>) => ((request: HttpServerRequest.HttpServerRequest, services: Map<string, unknown>) => void) | undefined

/** What an app asks of the handler that serves it (ApiRouter's route), by app. */
const preparers = new WeakMap<object, Prepare>()

/** Marks `app` as wanting `prepare` run for each of its requests (by whoever serves it with `make`). */
export const withPrepare = <A extends object>(app: A, prepare: Prepare): A => {
  preparers.set(app, prepare)
  return app
}

/** What `app` asked for with withPrepare, if anything. */
export const preparerOf = (app: object): Prepare | undefined => preparers.get(app)

/** Builds the handler for `app`, which answers every request (its failures already responses);
 * `prepares` run in order as each request's context is built. */
export const make = <R>(
  app: HttpApp.Default<never, R>,
  prepares: ReadonlyArray<Prepare | undefined> = []
): Effect.Effect<(nodeRequest: Http.IncomingMessage, nodeResponse: Http.ServerResponse) => void, never, Exclude<R, HttpServerRequest.HttpServerRequest | Scope.Scope>> =>
  Effect.gen(function*() {
    const Request = yield* platformRequestClass
    const runtime = yield* Effect.runtime<Exclude<R, HttpServerRequest.HttpServerRequest | Scope.Scope>>()
    const base = runtime.context.unsafeMap
    const runtimeFlags = RuntimeFlags.disable(runtime.runtimeFlags, RuntimeFlags.Interruption)
    const { fiberRefs } = runtime
    const prepared = prepares.flatMap((prepare) => prepare?.(runtime as Runtime.Runtime<never>) ?? [])
    const handled = Effect.withFiberRuntime<void, never, R | HttpServerRequest.HttpServerRequest>((fiber) => {
      const context = fiber.currentContext
      const request = Context.unsafeGet(context, HttpServerRequest.HttpServerRequest)
      const scope = Context.unsafeGet(context, Scope.Scope) as LazyScope
      const nodeResponse = (request as unknown as { readonly response: Http.ServerResponse }).response
      // The app answers its own failures (RequestLifecycle); one that still escapes is the
      // platform's 500, not a request left unanswered.
      return Effect.matchCauseEffect(app, {
        onFailure: (cause) => Effect.zipRight(abandon(nodeResponse)(cause), scope.close(Exit.failCause(cause))),
        onSuccess: (response) => {
          const written = answer(fiber, request, nodeResponse, response)
          // Written already and no Scope was asked for: nothing left to close.
          return written === Effect.void && scope.real === undefined ? written : Effect.zipRight(written, scope.close(Exit.void))
        }
      })
    })
    return function handler(nodeRequest: Http.IncomingMessage, nodeResponse: Http.ServerResponse) {
      const request = new Request(nodeRequest, nodeResponse)
      const services = new Map(base)
      services.set(HttpServerRequest.HttpServerRequest.key, request)
      services.set(Scope.Scope.key, new LazyScope())
      for (let i = 0; i < prepared.length; i++) prepared[i]!(request, services)
      const context = Context.unsafeMake<R | HttpServerRequest.HttpServerRequest>(services)
      const fiber = Runtime.runFork(Runtime.make({ context, runtimeFlags, fiberRefs }))(handled) // owner: this request; the app's lifecycle adds it to the server's FiberSet
      nodeResponse.on("close", () => {
        if (!nodeResponse.writableEnded) fiber.unsafeInterruptAsFork(HttpServerError.clientAbortFiberId)
      })
    }
  })
