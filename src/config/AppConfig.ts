// The service's configuration: every environment variable, read once, validated, typed.
// No other module reads process.env; they take AppConfig from the context.
// Secrets (ADMIN_TOKEN, UPSTREAM_URL, DATABASE_URL, REDIS_URL) stay Redacted here: whoever needs
// the value unwraps it with Redacted.value where it is used, never where it could be logged.
import { Config, ConfigError, Context, Effect, Either, Layer, Redacted } from "effect"
import { flag, host, integer, millis, oneOf, optionalSecret, optionalSecretUrl, path, port } from "./env.js"
import { isLoopback } from "./loopback.js"

export const LogLevels = ["debug", "info", "warn", "error"] as const
export type LogLevelName = (typeof LogLevels)[number]

/**
 * ADMIN_TOKEN. Secure by default: an admin listener other machines can reach must ask for a
 * token. Read beside ADMIN_HOST so that a refusal is one more entry of the one config error
 * (an invalid ADMIN_HOST is reported by its own reader, not here again).
 */
const adminToken = Config.all([
  host("ADMIN_HOST", "127.0.0.1").pipe(Config.orElse(() => Config.succeed(undefined))),
  optionalSecret("ADMIN_TOKEN")
]).pipe(Config.mapOrFail(([adminHost, token]) =>
  adminHost === undefined || isLoopback(adminHost) || token !== undefined
    ? Either.right(token)
    : Either.left(ConfigError.InvalidData(
      ["ADMIN_TOKEN"],
      `required when ADMIN_HOST (${adminHost}) is not a loopback address: set ADMIN_TOKEN to a secret ` +
        `bearer token, or bind ADMIN_HOST to 127.0.0.1, ::1 or localhost`
    ))
))

export const appConfig = Config.all({
  port: port("PORT", 8080),
  host: host("HOST", "0.0.0.0"),
  adminPort: port("ADMIN_PORT", 9090),
  adminHost: host("ADMIN_HOST", "127.0.0.1"),
  adminToken,
  shutdownTimeoutMs: millis("SHUTDOWN_TIMEOUT_MS", 10_000, { min: 1, max: 3_600_000 }),
  drainDelayMs: millis("DRAIN_DELAY_MS", 0),
  requestTimeoutMs: millis("REQUEST_TIMEOUT_MS", 30_000, { min: 1, max: 3_600_000 }),
  logLevel: oneOf("LOG_LEVEL", "info", LogLevels),
  // One access line per request: at info when true, else at debug (so LOG_LEVEL=debug shows it).
  logRequests: flag("LOG_REQUESTS"),
  // The optional features' settings (src/websocket, src/upstream, src/jobs) live here too, so that
  // one read validates everything before anything starts. A deleted feature's block is harmless
  // (read, validated, unused); to drop it, delete it here, in `test` below and in test/config.
  // websocket
  wsPingIntervalMs: millis("WS_PING_INTERVAL_MS", 15_000, { min: 10, max: 3_600_000 }),
  wsPongTimeoutMs: millis("WS_PONG_TIMEOUT_MS", 10_000, { min: 10, max: 3_600_000 }),
  wsMaxMessageBytes: integer("WS_MAX_MESSAGE_BYTES", 65_536, { min: 16, max: 16 * 1024 * 1024 }),
  wsSendQueue: integer("WS_SEND_QUEUE", 256, { min: 1, max: 100_000 }),
  // upstream
  upstreamUrl: optionalSecretUrl("UPSTREAM_URL", ["http:", "https:"], "an http:// or https:// URL"),
  upstreamTimeoutMs: millis("UPSTREAM_TIMEOUT_MS", 2_000, { min: 1, max: 600_000 }),
  upstreamRetries: integer("UPSTREAM_RETRIES", 2, { min: 0, max: 10 }),
  breakerFailures: integer("BREAKER_FAILURES", 5, { min: 1, max: 1_000 }),
  breakerResetMs: millis("BREAKER_RESET_MS", 10_000, { min: 1, max: 3_600_000 }),
  // jobs
  workers: integer("WORKERS", 4, { min: 1, max: 256 }),
  jobQueueSize: integer("JOB_QUEUE_SIZE", 1_000, { min: 1, max: 1_000_000 }),
  dataDir: path("DATA_DIR", "./data"),
  // Unset: the embedded SQLite store in DATA_DIR. Set: every replica shares this Postgres queue.
  databaseUrl: optionalSecretUrl("DATABASE_URL", ["postgres:", "postgresql:"], "a postgres:// URL"),
  // Whole seconds are what the store keeps (rounded up): at least one.
  jobLeaseMs: millis("JOB_LEASE_MS", 30_000, { min: 1_000, max: 86_400_000 }),
  jobMaxAttempts: integer("JOB_MAX_ATTEMPTS", 3, { min: 1, max: 100 }),
  // Done and failed jobs stay readable (GET /jobs/:id) this long, then are deleted.
  jobRetentionMs: millis("JOB_RETENTION_MS", 86_400_000, { min: 1_000, max: 31_536_000_000 }),
  // fleet (read and validated now, not used yet): shared broadcast
  redisUrl: optionalSecretUrl("REDIS_URL", ["redis:", "rediss:"], "a redis:// or rediss:// URL"),
  // Test-only: adds a finalizer that never finishes, to exercise the deadline and forced exits.
  debugHangOnShutdown: flag("DEBUG_HANG_ON_SHUTDOWN")
})

export type AppConfigShape = Config.Config.Success<typeof appConfig>

export class AppConfig extends Context.Tag("app/AppConfig")<AppConfig, AppConfigShape>() {
  /** `Redacted.value` for an optional secret, where it is used (the upstream client's URL). */
  static readonly reveal = <A>(secret: Redacted.Redacted<A> | undefined): A | undefined =>
    secret === undefined ? undefined : Redacted.value(secret)
}

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

type Secrets = "adminToken" | "upstreamUrl" | "databaseUrl" | "redisUrl"

/** Overrides for `test`: secrets may be given in the clear, the factory redacts them. */
export type TestOverrides = Partial<Omit<AppConfigShape, Secrets>> & {
  readonly adminToken?: string | Redacted.Redacted<string> | undefined
  readonly upstreamUrl?: URL | Redacted.Redacted<URL> | undefined
  readonly databaseUrl?: URL | Redacted.Redacted<URL> | undefined
  readonly redisUrl?: URL | Redacted.Redacted<URL> | undefined
}

const redact = <A>(value: A | Redacted.Redacted<A> | undefined): Redacted.Redacted<A> | undefined =>
  value === undefined ? undefined : Redacted.isRedacted(value) ? value as Redacted.Redacted<A> : Redacted.make(value as A)

/** Defaults with overrides, for tests. */
export const test = (overrides: TestOverrides = {}): AppConfigShape => ({
  port: 0,
  host: "127.0.0.1",
  adminPort: 0,
  adminHost: "127.0.0.1",
  shutdownTimeoutMs: 10_000,
  drainDelayMs: 0,
  requestTimeoutMs: 30_000,
  logLevel: "info",
  logRequests: false,
  wsPingIntervalMs: 15_000,
  wsPongTimeoutMs: 10_000,
  wsMaxMessageBytes: 65_536,
  wsSendQueue: 256,
  upstreamTimeoutMs: 2_000,
  upstreamRetries: 2,
  breakerFailures: 5,
  breakerResetMs: 10_000,
  workers: 4,
  jobQueueSize: 1_000,
  dataDir: "./data",
  jobLeaseMs: 30_000,
  jobMaxAttempts: 3,
  jobRetentionMs: 86_400_000,
  debugHangOnShutdown: false,
  ...overrides,
  adminToken: redact(overrides.adminToken),
  upstreamUrl: redact(overrides.upstreamUrl),
  databaseUrl: redact(overrides.databaseUrl),
  redisUrl: redact(overrides.redisUrl)
})
