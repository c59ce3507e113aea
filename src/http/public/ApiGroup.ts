/**
 * HttpApiBuilder.group with the per-request work done once (issue 21). Same signature, same
 * routes in HttpApiBuilder.Router, same decoding (path, payload, headers, URL params, in that
 * order; a ParseError anywhere is HttpApiDecodeError), same success encoding (a response is sent
 * as it is, else the endpoint's success schema encodes it with its status and encoding). What the
 * platform does per request and this does once: the URL params decoder (the platform makes it per
 * request), the generator, and the handler's context: the platform merges the group layer's
 * context into every request's (Context.merge plus Effect.mapInputContext, an acquireUseRelease
 * region); here ApiRouter adds the group's services while it builds the request's context anyway,
 * and a route served by another router merges them itself as the platform does.
 * A group (or an endpoint) with HttpApiMiddleware is built by HttpApiBuilder.group itself.
 * Owns: nothing (the routes belong to the Router it is given).
 * Does not own: the services the handlers use (the layers that provide them).
 * Released when: nothing to release (the routes go with their Router).
 */
import {
  type HttpApi,
  HttpApiBuilder,
  HttpBody,
  HttpApiError,
  type HttpApiEndpoint,
  type HttpApiGroup,
  HttpApiSchema,
  HttpMethod,
  HttpRouter,
  HttpServerRequest,
  HttpServerResponse,
  Multipart,
  UrlParams
} from "@effect/platform"
import { Chunk, Context, Effect, identity, Option, ParseResult, Schema, type SchemaAST as AST } from "effect"
import { pipeArguments } from "effect/Pipeable"

/** The route context ApiRouter gives a request: its presence says the group's services are in the
 * request's context already. */
export class ProvidedRouteContext implements HttpRouter.RouteContext {
  readonly [HttpRouter.RouteContextTypeId]: HttpRouter.RouteContextTypeId = HttpRouter.RouteContextTypeId
  constructor(readonly params: Readonly<Record<string, string | undefined>>, readonly route: HttpRouter.Route<unknown, unknown>) {}
}

/** A route's handler -> the services of the layer that built it (read by ApiRouter). */
const groupContexts = new WeakMap<object, Context.Context<never>>()

export const contextOf = (handler: object): Context.Context<never> | undefined => groupContexts.get(handler)

type AnyEndpoint = HttpApiEndpoint.HttpApiEndpoint.AnyWithProps
type Handler = (request: any) => Effect.Effect<unknown, unknown, unknown>
interface Item {
  readonly endpoint: AnyEndpoint
  readonly handler: Handler
  readonly withFullRequest: boolean
  readonly uninterruptible: boolean
}

// ---- the platform's success encoding (HttpApiBuilder's makeSuccessSchema, not exported) ----

const responseSchema = Schema.declare(HttpServerResponse.isServerResponse)

const decodeForbidden = <A>(_: A, __: AST.ParseOptions, ast: AST.Transformation) =>
  ParseResult.fail(new ParseResult.Forbidden(ast, _, "Encode only schema"))

const schemaToResponse = (
  data: any,
  _: AST.ParseOptions,
  ast: AST.Transformation
): Effect.Effect<HttpServerResponse.HttpServerResponse, ParseResult.ParseIssue> => {
  const status = HttpApiSchema.getStatusSuccessAST(ast.to)
  if (HttpApiSchema.isVoid(ast.to)) return HttpServerResponse.empty({ status })
  const encoding = HttpApiSchema.getEncoding(ast.to)
  switch (encoding.kind) {
    case "Json":
      // HttpServerResponse.json's work and failure, without its Effect: an encoding that stays
      // synchronous is one step for the fiber, not a chain of them (issue 21).
      try {
        return ParseResult.succeed(HttpServerResponse.unsafeJson(data, { status, contentType: encoding.contentType }))
      } catch (error) {
        return ParseResult.fail(new ParseResult.Type(ast, HttpBody.HttpBodyError({ _tag: "JsonError", error }), "Could not encode to JSON"))
      }
    case "Text":
      return ParseResult.succeed(HttpServerResponse.text(data, { status, contentType: encoding.contentType }))
    case "Uint8Array":
      return ParseResult.succeed(HttpServerResponse.uint8Array(data, { status, contentType: encoding.contentType }))
    case "UrlParams":
      return ParseResult.succeed(HttpServerResponse.urlParams(data, { status, contentType: encoding.contentType }))
  }
}

const successSchema = (schema: Schema.Schema.Any): Schema.Schema<unknown, HttpServerResponse.HttpServerResponse> => {
  const schemas = new Set<Schema.Schema.Any>()
  HttpApiSchema.deunionize(schemas, schema)
  return Schema.Union(
    ...Array.from(schemas, (member) => Schema.transformOrFail(responseSchema, member, { decode: decodeForbidden, encode: schemaToResponse }))
  ) as any
}

// ---- the platform's request reading (HttpApiBuilder's requestPayload and normalizeUrlParams) ----

const requestPayload = (
  request: HttpServerRequest.HttpServerRequest,
  urlParams: Readonly<Record<string, string | Array<string>>>,
  multipartLimits: Option.Option<Multipart.withLimits.Options>
): Effect.Effect<unknown, never, any> => {
  if (!HttpMethod.hasBody(request.method)) return Effect.succeed(urlParams)
  const contentType = request.headers["content-type"] ? request.headers["content-type"].toLowerCase().trim() : "application/json"
  if (contentType.includes("application/json")) return Effect.orDie(request.json)
  if (contentType.includes("multipart/form-data")) {
    return Effect.orDie(Option.match(multipartLimits, {
      onNone: () => request.multipart,
      onSome: (limits) => Multipart.withLimits(request.multipart, limits)
    }))
  }
  if (contentType.includes("x-www-form-urlencoded")) return Effect.map(Effect.orDie(request.urlParamsBody), UrlParams.toRecord)
  if (contentType.startsWith("text/")) return Effect.orDie(request.text)
  return Effect.map(Effect.orDie(request.arrayBuffer), (buffer) => new Uint8Array(buffer))
}

const isSingleStringType = (ast: AST.AST, key?: PropertyKey): boolean => {
  switch (ast._tag) {
    case "StringKeyword":
    case "Literal":
    case "TemplateLiteral":
    case "Enums":
      return true
    case "TypeLiteral": {
      if (key === undefined) return false
      const ps = ast.propertySignatures.find((ps) => ps.name === key)
      return ps !== undefined
        ? isSingleStringType(ps.type, key)
        : ast.indexSignatures.some((is) => Schema.is(Schema.make(is.parameter))(key) && isSingleStringType(is.type))
    }
    case "Union":
      return ast.types.some((type) => isSingleStringType(type, key))
    case "Suspend":
      return isSingleStringType(ast.f(), key)
    case "Refinement":
    case "Transformation":
      return isSingleStringType(ast.from, key)
  }
  return false
}

const normalizeUrlParams = (params: Readonly<Record<string, string | Array<string>>>, ast: AST.AST) => {
  const out: Record<string, string | Array<string>> = {}
  for (const key in params) {
    const value = params[key]!
    out[key] = Array.isArray(value) || isSingleStringType(ast, key) ? value : [value]
  }
  return out
}

// ---- one route ----

interface Parts {
  readonly request: HttpServerRequest.HttpServerRequest
  readonly params: Readonly<Record<string, string | undefined>>
  readonly urlParams: Readonly<Record<string, string | Array<string>>>
}

/** One part of the handler's request: its key and how it is read. */
type Step = readonly [key: string, read: (parts: Parts) => Effect.Effect<unknown, unknown, any>]

const toRoute = (item: Item, groupContext: Context.Context<never>): HttpRouter.Route<unknown, unknown> => {
  const { endpoint, handler } = item
  const isMultipartStream = endpoint.payloadSchema.pipe(
    Option.map(({ ast }) => HttpApiSchema.getMultipartStream(ast) !== undefined),
    Option.getOrElse(() => false)
  )
  const multipartLimits = endpoint.payloadSchema.pipe(
    Option.flatMapNullable(({ ast }) => HttpApiSchema.getMultipart(ast) || HttpApiSchema.getMultipartStream(ast))
  )
  const steps: Array<Step> = []
  if (endpoint.pathSchema._tag === "Some") {
    const decode = Schema.decodeUnknown(endpoint.pathSchema.value)
    steps.push(["path", (parts) => decode(parts.params)])
  }
  if (!item.withFullRequest && !isMultipartStream && endpoint.payloadSchema._tag === "Some") {
    const decode = Schema.decodeUnknown(endpoint.payloadSchema.value)
    steps.push(["payload", (parts) => Effect.flatMap(requestPayload(parts.request, parts.urlParams, multipartLimits), decode)])
  } else if (isMultipartStream) {
    steps.push(["payload", (parts) =>
      Effect.succeed(Option.match(multipartLimits, {
        onNone: () => parts.request.multipartStream,
        onSome: (limits) => Multipart.withLimitsStream(parts.request.multipartStream, limits)
      }))])
  }
  if (endpoint.headersSchema._tag === "Some") {
    const decode = Schema.decodeUnknown(endpoint.headersSchema.value)
    steps.push(["headers", (parts) => decode(parts.request.headers)])
  }
  if (endpoint.urlParamsSchema._tag === "Some") {
    const schema = endpoint.urlParamsSchema.value
    const decode = Schema.decodeUnknown(schema)
    steps.push(["urlParams", (parts) => decode(normalizeUrlParams(parts.urlParams, schema.ast))])
  }
  const encodeSuccess = Schema.encode(successSchema(endpoint.successSchema))
  const respond = (response: unknown) =>
    HttpServerResponse.isServerResponse(response) ? Effect.succeed(response) : encodeSuccess(response)
  const merge = (input: Context.Context<never>) => Context.merge(groupContext, input)

  const run = (provided: boolean, request: Record<string, unknown>) => {
    const handled = handler(request)
    return Effect.flatMap(provided ? handled : Effect.mapInputContext(handled as Effect.Effect<unknown, unknown, never>, merge), respond)
  }
  const read = (i: number, provided: boolean, parts: Parts, request: Record<string, unknown>): Effect.Effect<unknown, unknown, any> => {
    if (i === steps.length) return run(provided, request)
    const [key, step] = steps[i]!
    return Effect.flatMap(step(parts), (value) => {
      request[key] = value
      return read(i + 1, provided, parts, request)
    })
  }
  const routeHandler = Effect.withFiberRuntime<unknown, unknown, any>((fiber) => {
    const context = fiber.currentContext
    const httpRequest = Context.unsafeGet(context, HttpServerRequest.HttpServerRequest)
    const routeContext = Context.unsafeGet(context, HttpRouter.RouteContext)
    const urlParams = Context.unsafeGet(context, HttpServerRequest.ParsedSearchParams)
    const request = { request: httpRequest }
    return read(0, routeContext instanceof ProvidedRouteContext, { request: httpRequest, params: routeContext.params, urlParams }, request)
  }).pipe(Effect.catchIf(ParseResult.isParseError, HttpApiError.HttpApiDecodeError.refailParseError))
  groupContexts.set(routeHandler, groupContext)
  return HttpRouter.makeRoute(endpoint.method, endpoint.path as HttpRouter.PathInput, routeHandler as any, { uninterruptible: item.uninterruptible })
}

/** What `build` is given and returns: HttpApiBuilder's Handlers (handle, handleRaw, pipe). */
interface Handlers {
  readonly group: HttpApiGroup.HttpApiGroup.AnyWithProps
  readonly handlers: Chunk.Chunk<Item>
}

/** handle (the decoded request) and handleRaw (the request as it came): one endpoint's handler added. */
function adding(withFullRequest: boolean) {
  return function(this: Handlers, name: string, handler: Handler, options?: { readonly uninterruptible?: boolean | undefined }) {
    return makeHandlers(this.group, Chunk.append(this.handlers, {
      endpoint: this.group.endpoints[name]! as AnyEndpoint,
      handler,
      withFullRequest,
      uninterruptible: options?.uninterruptible ?? false
    }))
  }
}

const HandlersProto = {
  [HttpApiBuilder.HandlersTypeId]: { _Endpoints: identity },
  pipe(this: Handlers) {
    return pipeArguments(this, arguments)
  },
  handle: adding(false),
  handleRaw: adding(true)
}

const makeHandlers = (group: HttpApiGroup.HttpApiGroup.AnyWithProps, handlers: Chunk.Chunk<Item>): Handlers =>
  Object.assign(Object.create(HandlersProto), { group, handlers })

const usesMiddleware = (group: HttpApiGroup.HttpApiGroup.AnyWithProps) =>
  group.middlewares.size > 0 || Object.values(group.endpoints).some((endpoint) => endpoint.middlewares.size > 0)

/** HttpApiBuilder.group, its routes built as above. */
export const group: typeof HttpApiBuilder.group = ((
  api: HttpApi.HttpApi.AnyWithProps,
  groupName: string,
  build: (handlers: any) => any
) => {
  const apiGroup = (api.groups as Record<string, HttpApiGroup.HttpApiGroup.AnyWithProps>)[groupName]!
  if (usesMiddleware(apiGroup)) return (HttpApiBuilder.group as any)(api, groupName, build)
  return HttpApiBuilder.Router.use((router) =>
    Effect.gen(function*() {
      const context = yield* Effect.context<never>()
      const result = build(makeHandlers(apiGroup, Chunk.empty()))
      const handlers: Handlers = Effect.isEffect(result) ? yield* (result as Effect.Effect<Handlers, unknown, never>) : result
      const routes = Chunk.toReadonlyArray(handlers.handlers).map((item) => toRoute(item, context))
      yield* router.concat(HttpRouter.fromIterable(routes) as HttpRouter.HttpRouter<unknown, any>)
    })
  )
}) as any
