// The service's configuration: every environment variable, read once, validated, typed.
// No other module reads process.env; they take AppConfig from the context.
import { Config, ConfigError, Context, Effect, Layer } from "effect"
import { flag, host, integer, millis, oneOf, optionalSecret, optionalUrl, path, port } from "./env.js"

export const LogLevels = ["debug", "info", "warn", "error"] as const
export type LogLevelName = (typeof LogLevels)[number]

export const appConfig = Config.all({
  port: port("PORT", 8080),
  host: host("HOST", "0.0.0.0"),
  adminPort: port("ADMIN_PORT", 9090),
  adminHost: host("ADMIN_HOST", "127.0.0.1"),
  adminToken: optionalSecret("ADMIN_TOKEN"),
  shutdownTimeoutMs: millis("SHUTDOWN_TIMEOUT_MS", 10_000, { min: 1, max: 3_600_000 }),
  drainDelayMs: millis("DRAIN_DELAY_MS", 0),
  requestTimeoutMs: millis("REQUEST_TIMEOUT_MS", 30_000, { min: 1, max: 3_600_000 }),
  logLevel: oneOf("LOG_LEVEL", "info", LogLevels),
  // The optional features' settings (src/socket, src/resilience, src/jobs) live here too, so that
  // one read validates everything before anything starts. A deleted feature's block is harmless
  // (read, validated, unused); to drop it, delete it here, in `test` below and in test/config.
  // socket
  wsPingIntervalMs: millis("WS_PING_INTERVAL_MS", 15_000, { min: 10, max: 3_600_000 }),
  wsPongTimeoutMs: millis("WS_PONG_TIMEOUT_MS", 10_000, { min: 10, max: 3_600_000 }),
  wsMaxMessageBytes: integer("WS_MAX_MESSAGE_BYTES", 65_536, { min: 16, max: 16 * 1024 * 1024 }),
  wsSendQueue: integer("WS_SEND_QUEUE", 256, { min: 1, max: 100_000 }),
  // resilience
  upstreamUrl: optionalUrl("UPSTREAM_URL"),
  upstreamTimeoutMs: millis("UPSTREAM_TIMEOUT_MS", 2_000, { min: 1, max: 600_000 }),
  upstreamRetries: integer("UPSTREAM_RETRIES", 2, { min: 0, max: 10 }),
  breakerFailures: integer("BREAKER_FAILURES", 5, { min: 1, max: 1_000 }),
  breakerResetMs: millis("BREAKER_RESET_MS", 10_000, { min: 1, max: 3_600_000 }),
  // jobs
  workers: integer("WORKERS", 4, { min: 1, max: 256 }),
  jobQueueSize: integer("JOB_QUEUE_SIZE", 1_000, { min: 1, max: 1_000_000 }),
  dataDir: path("DATA_DIR", "./data"),
  // Test-only: adds a finalizer that never finishes, to exercise the deadline and forced exits.
  debugHangOnShutdown: flag("DEBUG_HANG_ON_SHUTDOWN")
})

export type AppConfigShape = Config.Config.Success<typeof appConfig>

export class AppConfig extends Context.Tag("app/AppConfig")<AppConfig, AppConfigShape>() {}

/** Every invalid variable, as `{ variable, problem }`, for one startup log line. */
export const describeConfigError = (error: ConfigError.ConfigError): ReadonlyArray<{ variable: string; problem: string }> =>
  ConfigError.reduceWithContext(error, undefined, {
    andCase: (_, left, right) => [...left, ...right],
    orCase: (_, left, right) => [...left, ...right],
    invalidDataCase: (_, path, message) => [{ variable: path.join("_"), problem: message }],
    missingDataCase: (_, path, message) => [{ variable: path.join("_"), problem: message }],
    sourceUnavailableCase: (_, path, message) => [{ variable: path.join("_"), problem: message }],
    unsupportedCase: (_, path, message) => [{ variable: path.join("_"), problem: message }]
  })

export const load: Effect.Effect<AppConfigShape, ConfigError.ConfigError> = appConfig

export const layer = (config: AppConfigShape) => Layer.succeed(AppConfig, config)

/** Defaults with overrides, for tests. */
export const test = (overrides: Partial<AppConfigShape> = {}): AppConfigShape => ({
  port: 0,
  host: "127.0.0.1",
  adminPort: 0,
  adminHost: "127.0.0.1",
  adminToken: undefined,
  shutdownTimeoutMs: 10_000,
  drainDelayMs: 0,
  requestTimeoutMs: 30_000,
  logLevel: "info",
  wsPingIntervalMs: 15_000,
  wsPongTimeoutMs: 10_000,
  wsMaxMessageBytes: 65_536,
  wsSendQueue: 256,
  upstreamUrl: undefined,
  upstreamTimeoutMs: 2_000,
  upstreamRetries: 2,
  breakerFailures: 5,
  breakerResetMs: 10_000,
  workers: 4,
  jobQueueSize: 1_000,
  dataDir: "./data",
  debugHangOnShutdown: false,
  ...overrides
})
