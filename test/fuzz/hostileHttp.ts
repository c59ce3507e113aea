// Arbitraries for hostile HTTP/1.1 requests, built as exact bytes: odd methods, malformed
// request-targets, bad percent-encoding, random queries and headers, lying framing, deep or huge
// JSON, invalid UTF-8, random bytes. Used by http-routes.test.ts and upgrade.test.ts.
import fc from "fast-check"

export type Target = "public" | "admin"

export interface HostileRequest {
  readonly port: Target
  readonly method: string
  readonly target: string
  readonly bytes: Buffer
  /** Final responses a correct server sends (a pipelined GET /healthz makes two). */
  readonly responses: number
  /** The client half-closes right after writing (then a dropped response is no violation). */
  readonly finAtOnce: boolean
}

export const PUBLIC_PATHS = ["/healthz", "/readyz", "/sleep", "/jobs", "/jobs/x1", "/upstream", "/openapi.json", "/docs", "/ws", "/"]
// POST /admin/shutdown is sent once, at the end (see HostileService.finish), never at random.
export const ADMIN_PATHS = ["/metrics", "/debug/fibers", "/admin/shutdown", "/"]

export const MALFORMED_TARGETS = [
  "http://[", "//%", "/%ZZ", "*", "http://[/healthz", "/%", "/%%", "/%u0041", "/%c0%af", "/..%2f..%2f",
  "/%00", "?", "/?%", "http://", "https://x:99999/healthz", "http://user:pass@x/healthz", "/healthz#frag",
  "//", "///healthz", "/./healthz", "/../healthz", "\\healthz", "/healthz%20", "/%2e%2e/", "/%E0%A4%A",
  "/jobs/%FF%FE", "/jobs/%2F", "http://[::1/", "http://a b/", "/\u00ff\u00fe", "/\u0000", "/\t"
]

const deep = (open: string, close: string, depth: number) => open.repeat(depth) + close.repeat(depth)

export const HOSTILE_BODIES: ReadonlyArray<string | Buffer> = [
  deep("[", "]", 20_000),
  `{"ms":1,"payload":${deep("[", "]", 20_000)}}`,
  `{"ms":1,"payload":${deep('{"a":', "}", 5_000).replace(/\}+$/, (m) => `1${m}`)}}`,
  `{"ms":1,"payload":${deep("[", "]", 3_000)}}`,
  `{"ms":1,"payload":${deep("[", "]", 40)}}`,
  "[".repeat(20_000),
  '{"ms":1e400}',
  '{"ms":-1e400,"payload":1e400}',
  `{"ms":${"9".repeat(1_000)}}`,
  `{"ms":1,"payload":${"9".repeat(10_000)}}`,
  `{"ms":1,"payload":0.${"0".repeat(5_000)}1e-99999}`,
  '{"ms":1.5}',
  '{"ms":"1"}',
  '{"ms":null}',
  '{"__proto__":{"ms":1},"ms":1}',
  '{"constructor":{"prototype":{"x":1}},"ms":1}',
  '{"ms":1,"payload":"\\ud800"}',
  '{"ms":1,"payload":"\\u0000"}',
  Buffer.concat([Buffer.from('{"ms":1,"payload":"'), Buffer.from([0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0, 0x80]), Buffer.from('"}')]),
  Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), // BOM + {}
  Buffer.from([0xfe, 0xff, 0x00, 0x7b, 0x00, 0x7d]), // UTF-16
  "{",
  "}",
  "null",
  "",
  "--x\r\nContent-Disposition: form-data; name=\"ms\"\r\n\r\n1\r\n--x--\r\n",
  "ms=1&payload=%ZZ"
]

const CONTENT_TYPES = [
  "application/json", "application/json; charset=utf-16", "multipart/form-data; boundary=x", "multipart/form-data",
  "application/x-www-form-urlencoded", "text/plain", "application/octet-stream", "*/*", ";;;", "application/json; charset=\u00ff"
]

/** A string of request-target-safe bytes (no space, CR, LF): what a fuzzer puts in a URL. */
const urlChars = fc.string({ unit: fc.integer({ min: 0x21, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 40 })

const percentMangled = fc.tuple(fc.constantFrom(...PUBLIC_PATHS, ...ADMIN_PATHS), fc.nat(20), fc.string({ maxLength: 2 })).map(
  ([path, at, junk]) => {
    const i = Math.min(at, path.length)
    return `${path.slice(0, i)}%${junk.replace(/[\s]/g, "")}${path.slice(i)}`
  }
)

const query = fc.oneof(
  fc.constant(""),
  fc.constantFrom(
    "?ms=1e400", `?ms=${"9".repeat(1_000)}`, "?ms=%", "?ms=-1", "?ms=0x10", "?ms=1&ms=2", "?ms[]=1", "?%", "?a=%ZZ",
    "?=&=", "?ms=%F0%9F", "?ms=%FF%FE", "?ms= 5", "?ms=1.5", "?ms=600001", "?ms", "?&&&", `?${"a=1&".repeat(2_000)}`
  ),
  fc.nat(30).map((ms) => `?ms=${ms}`),
  urlChars.map((s) => `?${s}`)
)

export const requestTarget = (paths: ReadonlyArray<string>) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...paths), query).map(([path, q]) => path + q) },
    { weight: 3, arbitrary: fc.constantFrom(...MALFORMED_TARGETS) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom("http://fuzz", "http://[::1]:1", "HTTP://X", "ftp://x", "http://x:0"), fc.constantFrom(...paths)).map(([a, p]) => a + p) },
    { weight: 1, arbitrary: fc.constantFrom(1_000, 8_000, 20_000).map((n) => `/${"a".repeat(n)}`) },
    { weight: 2, arbitrary: percentMangled },
    { weight: 2, arbitrary: urlChars.map((s) => (s.startsWith("/") ? s : `/${s}`)) }
  )

export const method = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("GET", "POST", "HEAD") },
  { weight: 3, arbitrary: fc.constantFrom("PUT", "DELETE", "OPTIONS", "PATCH", "PROPFIND", "FOO", "get", "TRACE", "CONNECT", "M-SEARCH", "PRI", "post") },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z-]{1,12}$/) }
)

const version = fc.oneof({ weight: 12, arbitrary: fc.constant("HTTP/1.1") }, {
  weight: 1,
  arbitrary: fc.constantFrom("HTTP/1.0", "HTTP/2.0", "HTTP/1.1x", "", "HTTP/9.9", "http/1.1")
})

const headerValue = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 30 })

const extraHeader = fc.oneof(
  fc.constantFrom(...CONTENT_TYPES).map((v) => `Content-Type: ${v}`),
  fc.constant("Expect: 100-continue"),
  fc.constant("Expect: 999-nope"),
  fc.constant("Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA"),
  fc.constant("Connection: Upgrade\r\nUpgrade: websocket"),
  fc.constant("Connection: keep-alive, Upgrade\r\nUpgrade: foo/1, websocket"),
  fc.constant("Transfer-Encoding: gzip"),
  fc.constant("Transfer-Encoding: chunked, chunked"),
  fc.constant("Connection: close"),
  fc.constantFrom("traceparent: zz-zz", "traceparent: 00-00000000000000000000000000000000-0000000000000000-01", "b3: %%%", "x-b3-traceid: \u00ff"),
  fc.constantFrom("Authorization: Bearer \u00ff", "Authorization: Basic", `Authorization: Bearer ${"x".repeat(4_000)}`),
  fc.constantFrom("Host: [", "Host: a\r\nHost: b", "Host: x:99999"),
  fc.constantFrom("Accept: */*;q=nope", "Accept-Encoding: gzip;q=2", "Cookie: =;=;a", "Range: bytes=9-1"),
  fc.tuple(fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}$/), headerValue).map(([name, value]) => `${name}: ${value}`),
  fc.tuple(urlChars, headerValue).map(([name, value]) => `${name}: ${value}`) // maybe an invalid header name
)

type Framing = "exact" | "none" | "more" | "less" | "invalid" | "chunked" | "chunked-garbage" | "twice"

const framing = fc.constantFrom<Framing>("exact", "exact", "exact", "none", "more", "less", "invalid", "chunked", "chunked-garbage", "twice")

export const body = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_BODIES) },
  { weight: 2, arbitrary: fc.nat(20).map((ms) => `{"ms":${ms},"payload":{"n":${ms}}}`) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 4 }) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: fc.constant("") }
)

const frameBody = (raw: Buffer, how: Framing): { readonly header: string; readonly payload: Buffer } => {
  switch (how) {
    case "exact":
      return { header: `Content-Length: ${raw.length}`, payload: raw }
    case "none":
      return { header: "", payload: raw }
    case "more":
      return { header: `Content-Length: ${raw.length + 10}`, payload: raw }
    case "less":
      return { header: `Content-Length: ${Math.max(0, raw.length - 3)}`, payload: raw }
    case "invalid":
      return { header: "Content-Length: 12abc", payload: raw }
    case "twice":
      return { header: `Content-Length: ${raw.length}\r\nContent-Length: ${raw.length + 1}`, payload: raw }
    case "chunked":
      return {
        header: "Transfer-Encoding: chunked",
        payload: Buffer.concat([Buffer.from(`${raw.length.toString(16)}\r\n`), raw, Buffer.from("\r\n0\r\n\r\n")])
      }
    case "chunked-garbage":
      return { header: "Transfer-Encoding: chunked", payload: Buffer.concat([Buffer.from("zz\r\n"), raw, Buffer.from("\r\n-1\r\n\r\n")]) }
  }
}

/** Never sent at random: POST /admin/shutdown would end the run (it is sent once, at the end). */
const mayShutDown = (port: Target, method: string, target: string, extra: Buffer) =>
  port === "admin" && (method.toUpperCase() === "POST" || extra.includes("POST")) && /shutdown/i.test(target + extra.toString("latin1"))

/** Anything: any method, target, headers, framing and body, on either port. */
const wildRequest: fc.Arbitrary<HostileRequest> = fc.record({
  port: fc.constantFrom<Target>("public", "public", "public", "admin"),
  method,
  version,
  publicTarget: requestTarget(PUBLIC_PATHS),
  adminTarget: requestTarget(ADMIN_PATHS),
  hostMissing: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  headers: fc.array(extraHeader, { maxLength: 4 }),
  body: fc.option(body, { freq: 3 }),
  framing,
  pipelineHealthz: fc.boolean(),
  finAtOnce: fc.integer({ min: 0, max: 9 }).map((n) => n === 0)
}).map((r) => {
    const target = r.port === "public" ? r.publicTarget : r.adminTarget
    const raw = r.body === null ? undefined : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body, "utf8")
    const framed = raw === undefined ? undefined : frameBody(raw, r.framing)
    const lines = [
      `${r.method} ${target}${r.version === "" ? "" : ` ${r.version}`}`,
      ...(r.hostMissing ? [] : ["Host: fuzz"]),
      ...r.headers,
      ...(framed !== undefined && framed.header !== "" ? [framed.header] : [])
    ]
    const head = Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1")
    const tail = r.pipelineHealthz ? Buffer.from("GET /healthz HTTP/1.1\r\nHost: fuzz\r\n\r\n") : Buffer.alloc(0)
    const rest = Buffer.concat([framed?.payload ?? Buffer.alloc(0), tail])
    const all = Buffer.concat([head, rest])
    // Defused, not dropped: the same request reaches a 404 instead of ending the run.
    const bytes = mayShutDown(r.port, r.method, target, rest) ? Buffer.from(all.toString("latin1").replace(/shutdown/gi, "shutdowm"), "latin1") : all
    return { port: r.port, method: r.method, target, bytes, responses: r.pipelineHealthz ? 2 : 1, finAtOnce: r.finAtOnce }
})

/** The routes as a client would call them, each with one hostile part or more. */
const ROUTES: ReadonlyArray<{ readonly port: Target; readonly method: string; readonly path: fc.Arbitrary<string>; readonly json?: boolean }> = [
  { port: "public", method: "GET", path: fc.constant("/healthz") },
  { port: "public", method: "GET", path: fc.constant("/readyz") },
  { port: "public", method: "GET", path: query.map((q) => `/sleep${q}`) },
  { port: "public", method: "POST", path: fc.constant("/jobs"), json: true },
  { port: "public", method: "GET", path: fc.oneof(urlChars, fc.constantFrom("%ZZ", "%", "..%2f..", "%00", "x".repeat(5_000), "%F0%9F%98")).map((id) => `/jobs/${id}`) },
  { port: "public", method: "GET", path: fc.constant("/upstream") },
  { port: "public", method: "GET", path: fc.constant("/openapi.json") },
  { port: "public", method: "GET", path: fc.constant("/docs") },
  { port: "admin", method: "GET", path: fc.constant("/metrics") },
  { port: "admin", method: "GET", path: fc.constant("/debug/fibers") }
]

const aimedRequest: fc.Arbitrary<HostileRequest> = fc.constantFrom(...ROUTES).chain((route) =>
  fc.record({
    path: route.path,
    query: fc.option(query, { freq: 2 }),
    method: fc.option(method, { freq: 4 }),
    headers: fc.array(extraHeader, { maxLength: 2 }),
    body: route.json === true ? body : fc.option(body, { freq: 4 }),
    framing: fc.oneof({ weight: 8, arbitrary: fc.constant<Framing>("exact") }, { weight: 1, arbitrary: framing }),
    finAtOnce: fc.integer({ min: 0, max: 9 }).map((n) => n === 0)
  }).map((r) => {
    const verb = r.method ?? route.method
    const target = r.query !== null && !r.path.includes("?") ? r.path + r.query : r.path
    const raw = r.body === null ? undefined : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body, "utf8")
    const framed = raw === undefined ? undefined : frameBody(raw, r.framing)
    const lines = [
      `${verb} ${target} HTTP/1.1`,
      "Host: fuzz",
      ...(route.json === true ? ["Content-Type: application/json"] : []),
      ...r.headers,
      ...(framed !== undefined && framed.header !== "" ? [framed.header] : [])
    ]
    const all = Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), framed?.payload ?? Buffer.alloc(0)])
    const bytes = mayShutDown(route.port, verb, target, all) ? Buffer.from(all.toString("latin1").replace(/shutdown/gi, "shutdowm"), "latin1") : all
    return { port: route.port, method: verb, target, bytes, responses: 1, finAtOnce: r.finAtOnce }
  })
)

export const hostileRequest: fc.Arbitrary<HostileRequest> = fc.oneof(
  { weight: 3, arbitrary: aimedRequest },
  { weight: 2, arbitrary: wildRequest }
)
