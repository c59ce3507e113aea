// http_requests_total counts what went on the wire. The app's response is only what it meant to
// send: the socket may die first, or something else answers (a refusal at shutdown, Node's parser,
// a request-target that is not a URL). So a request is counted once, when its node response
// closes: the status written if the head went out, else 499 (nothing reached the client).
import type * as Http from "node:http"
import * as HttpMetrics from "../observability/HttpMetrics.js"

/** Status recorded for a request whose response never started on the wire (nginx's convention). */
export const NOTHING_SENT = 499

const routes = new WeakMap<Http.ServerResponse, string>()
const rawStatus = new WeakMap<Http.ServerResponse, number>()

/** The route template the router matched; requests that matched none share "unmatched". */
export const labelRoute = (response: Http.ServerResponse, route: string): void => void routes.set(response, route)

/** The answer to this request went onto the socket without its response object (Node's parser
 * failed mid-request and the server answered on the raw socket). */
export const answeredRaw = (response: Http.ServerResponse, status: number): void => void rawStatus.set(response, status)

/** Starts counting one request; the function it returns records it (once) when `response` closes. */
export const track = (method: string, response: Http.ServerResponse): (() => void) => {
  const startedAt = performance.now()
  HttpMetrics.requestStarted()
  let recorded = false
  return () => {
    if (recorded) return
    recorded = true
    const status = response.headersSent ? response.statusCode : rawStatus.get(response) ?? NOTHING_SENT
    HttpMetrics.requestEnded(method, routes.get(response) ?? "unmatched", status, (performance.now() - startedAt) / 1000)
  }
}
