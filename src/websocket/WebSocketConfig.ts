// The WebSocket feature's settings: heartbeat, message size, the per-session send queue, and the
// Redis that carries broadcasts across replicas. Read with the core's and every other feature's in
// one Config.all in src/App.ts (one error names every bad variable); then read again here, from
// the same environment, by the feature's own layer. Deleting src/websocket deletes them with it.
// REDIS_URL is a secret (it may carry a password): Redacted until the hub connects with it.
import { Config, Context, Layer } from "effect"
import { integer, millis, optionalSecretUrl } from "../config/env.js"

export const config = Config.all({
  wsPingIntervalMs: millis("WS_PING_INTERVAL_MS", 15_000, { min: 10, max: 3_600_000 }),
  wsPongTimeoutMs: millis("WS_PONG_TIMEOUT_MS", 10_000, { min: 10, max: 3_600_000 }),
  wsMaxMessageBytes: integer("WS_MAX_MESSAGE_BYTES", 65_536, { min: 16, max: 16 * 1024 * 1024 }),
  wsSendQueue: integer("WS_SEND_QUEUE", 256, { min: 1, max: 100_000 }),
  // Unset: broadcast reaches this replica's sessions only. Set: every replica's, over Redis.
  redisUrl: optionalSecretUrl("REDIS_URL", ["redis:", "rediss:"], "a redis:// or rediss:// URL")
})

export type WebSocketConfigShape = Config.Config.Success<typeof config>

export class WebSocketConfig extends Context.Tag("app/WebSocketConfig")<WebSocketConfig, WebSocketConfigShape>() {}

/** The settings, read from the current ConfigProvider (tests: test/support/testConfig.ts). */
export const layer = Layer.effect(WebSocketConfig, config)
