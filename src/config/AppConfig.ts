// The core's settings: the HTTP listeners, the admin port and its token, the shutdown budget, logs.
// Each optional feature reads its own beside its code (src/jobs/JobsConfig.ts, ...); src/App.ts
// reads them all in one Config.all, so one error names every bad variable, core's and features'.
// No module reads process.env: settings come from Effect's ConfigProvider (the environment in
// production, ConfigProvider.fromMap in tests: test/support/testConfig.ts).
// Secrets (ADMIN_TOKEN here) stay Redacted: whoever needs the value unwraps it with `reveal` where
// it is used, never where it could be logged.
import { Config, ConfigError, Context, Either, Layer } from "effect"
import { flag, host, millis, oneOf, optionalSecret, port, reveal } from "./env.js"
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

export const config = Config.all({
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
  // Test-only: adds a finalizer that never finishes, to exercise the deadline and forced exits.
  debugHangOnShutdown: flag("DEBUG_HANG_ON_SHUTDOWN")
})

export type AppConfigShape = Config.Config.Success<typeof config>

export class AppConfig extends Context.Tag("app/AppConfig")<AppConfig, AppConfigShape>() {
  /** `Redacted.value` for an optional secret, where it is used (App.ts: the admin token). */
  static readonly reveal = reveal
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

/** The core's settings, read from the current ConfigProvider (tests; main.ts provides them from App.config). */
export const layer = Layer.effect(AppConfig, config)
