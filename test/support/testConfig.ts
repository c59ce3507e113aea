// Settings for in-process tests, the way the service gets them: environment-style keys read through
// Effect's ConfigProvider (ConfigProvider.fromMap), so every value is parsed and validated by the
// same readers as in production (src/config/env.ts) and a secret is Redacted as there. Over the
// defaults tests want: both listeners on 127.0.0.1 with a free port.
import { type Config, ConfigProvider, Effect, Either, Layer } from "effect"
import { describeConfigError } from "../../src/config/AppConfig.js"

/** Environment variables by name, e.g. { WORKERS: "1", DATABASE_URL: url }. */
export type Env = Readonly<Record<string, string>>

const defaults: Env = { PORT: "0", HOST: "127.0.0.1", ADMIN_PORT: "0", ADMIN_HOST: "127.0.0.1" }

export const provider = (env: Env = {}): ConfigProvider.ConfigProvider =>
  ConfigProvider.fromMap(new Map(Object.entries({ ...defaults, ...env })))

/** Sets the ConfigProvider for whatever it is provided to. */
export const layer = (env: Env = {}): Layer.Layer<never> => Layer.setConfigProvider(provider(env))

/** `settings` (e.g. AppConfig.layer, JobsConfig.layer, or a layer that includes one) read from `env`. */
export const withEnv = <A, E, R>(settings: Layer.Layer<A, E, R>, env: Env = {}): Layer.Layer<A, E, R> =>
  Layer.provide(settings, layer(env))

/** `config` read from exactly `env` (no test defaults): its value, or the one error naming every bad variable. */
export const read = <A>(config: Config.Config<A>, env: Env) =>
  Effect.either(Effect.withConfigProvider(config, ConfigProvider.fromMap(new Map(Object.entries(env)))))

/** What `config` rejects in `env`, `{ variable, problem }` each, as main.ts logs them (none: []). */
export const problems = <A>(config: Config.Config<A>, env: Env) =>
  Effect.map(read(config, env), (result) => Either.isLeft(result) ? describeConfigError(result.left) : [])
