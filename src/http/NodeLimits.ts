// Node http.Server limits, chosen deliberately (the defaults are tuned for neither abuse nor drain).
import type * as Http from "node:http"

export const nodeServerOptions = {
  // A client gets 10 s to send its headers (Node: 60 s); slow-loris sockets are cut well before.
  headersTimeout: 10_000,
  // ... and 30 s for the whole request including a 1 MiB body (Node: 300 s).
  requestTimeout: 30_000,
  // How often Node checks the two timeouts above (Node: 30 s, which would triple them).
  connectionsCheckingInterval: 1_000,
  // Idle keep-alive sockets close after 5 s (Node's default). Behind a load balancer, set it above
  // the balancer's idle timeout; during shutdown idle sockets are closed at once regardless.
  keepAliveTimeout: 5_000,
  // 16 KiB of headers (Node's default, stated here so it is a decision, not an accident).
  maxHeaderSize: 16 * 1024,
  // Reject requests without a Host header (HTTP/1.1 requires one).
  requireHostHeader: true
} satisfies Http.ServerOptions

// The same for the listening socket: connections queued by the kernel before accept().
export const listenBacklog = 511
