// Node http.Server limits, chosen deliberately (the defaults are tuned for neither abuse nor drain).
import type * as Http from "node:http"

/** A client gets 10 s to send its headers (Node: 60 s); slow-loris sockets are cut well before. */
export const HEADERS_TIMEOUT_MS = 10_000

/** How long a socket closed after an answer keeps being read (and what it sends discarded) so the
 * kernel does not reset it before the client has read the answer (a "lingering close"). */
export const LINGER_MS = 2_000

/** How often Node checks its header and request timeouts (Node: 30 s, which would triple them). */
const CHECK_INTERVAL_MS = 1_000

/**
 * Node's own whole-request timeout is only a backstop. The request timeout that answers is ours
 * (REQUEST_TIMEOUT_MS, in RequestLifecycle: the request fiber is interrupted and answered 503).
 * Node's clock starts at the first header byte, ours when the headers are complete, and Node's
 * would write a bare 408 on a socket our answer is already on: it fires only after ours had every
 * chance to answer and close (headers, our timeout, a lingering close, one check interval).
 */
export const nodeRequestTimeoutMs = (requestTimeoutMs: number) =>
  HEADERS_TIMEOUT_MS + requestTimeoutMs + LINGER_MS + 2 * CHECK_INTERVAL_MS

export const nodeServerOptions = (requestTimeoutMs: number) => ({
  headersTimeout: HEADERS_TIMEOUT_MS,
  requestTimeout: nodeRequestTimeoutMs(requestTimeoutMs),
  connectionsCheckingInterval: CHECK_INTERVAL_MS,
  // Idle keep-alive sockets close after 5 s (Node's default). Behind a load balancer, set it above
  // the balancer's idle timeout; during shutdown idle sockets are closed at once regardless.
  keepAliveTimeout: 5_000,
  // 16 KiB of headers (Node's default, stated here so it is a decision, not an accident).
  maxHeaderSize: 16 * 1024,
  // Reject requests without a Host header (HTTP/1.1 requires one).
  requireHostHeader: true
}) satisfies Http.ServerOptions

// The same for the listening socket: connections queued by the kernel before accept().
export const listenBacklog = 511
