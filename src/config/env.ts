// Typed readers for environment variables. Each one names its variable in the error and says
// what form was expected, so a bad value stops startup with a line a human can act on.
//
// Used by the core's settings (AppConfig.ts) and by each feature's (e.g. src/jobs/JobsConfig.ts).
// Secrets are read with Config.redacted and stay Redacted in the settings: printed, logged or
// serialised they show "<redacted>". A bad secret is named with the form expected, never echoed;
// the value is unwrapped (`reveal`) only where it is used.
import { Config, ConfigError, Either, Option, Redacted } from "effect"

export interface IntegerRange {
  readonly min: number
  readonly max: number
}

const invalid = (name: string, expected: string, raw: string) =>
  Either.left(ConfigError.InvalidData([name], `expected ${expected}, got ${JSON.stringify(raw)}`))

const fromString = <A>(
  name: string,
  fallback: string,
  parse: (raw: string) => Either.Either<A, ConfigError.ConfigError>
): Config.Config<A> =>
  Config.string(name).pipe(Config.withDefault(fallback), Config.mapOrFail((raw) => parse(raw.trim())))

/** A decimal integer in [min, max]; rejects "", "1.5", "1e3", "0x10", "-0". */
export const integer = (name: string, fallback: number, range: IntegerRange): Config.Config<number> => {
  const expected = `an integer between ${range.min} and ${range.max}`
  return fromString(name, String(fallback), (raw) => {
    if (!/^-?(0|[1-9][0-9]*)$/.test(raw) || raw === "-0") return invalid(name, expected, raw)
    const value = Number(raw)
    return value >= range.min && value <= range.max ? Either.right(value) : invalid(name, expected, raw)
  })
}

export const port = (name: string, fallback: number) => integer(name, fallback, { min: 0, max: 65535 })

/** Milliseconds, bounded above so a typo cannot mean "wait for a month". */
export const millis = (name: string, fallback: number, range: IntegerRange = { min: 0, max: 3_600_000 }) =>
  integer(name, fallback, range)

export const oneOf = <const Values extends ReadonlyArray<string>>(
  name: string,
  fallback: Values[number],
  values: Values
): Config.Config<Values[number]> =>
  fromString(name, fallback, (raw) => {
    const lower = raw.toLowerCase()
    return values.includes(lower) ? Either.right(lower as Values[number]) : invalid(name, `one of ${values.join(", ")}`, raw)
  })

/** A bind address: an IPv4/IPv6 literal or a hostname, no spaces, no scheme, no port. */
export const host = (name: string, fallback: string) =>
  fromString(name, fallback, (raw) =>
    /^[A-Za-z0-9.:_-]+$/.test(raw) && !raw.includes("://") ? Either.right(raw) : invalid(name, "a host name or IP address", raw))

/**
 * An optional secret, parsed by `parse` (None: not the form expected). Unset or empty means "not
 * configured". The error names the variable and the form, not the value: it may be a password.
 */
const optionalSecretOf = <A>(
  name: string,
  expected: string,
  parse: (raw: string) => Option.Option<A>
): Config.Config<Redacted.Redacted<A> | undefined> =>
  Config.option(Config.redacted(name)).pipe(
    Config.mapOrFail((secret) => {
      const raw = Option.match(secret, { onNone: () => "", onSome: (value) => Redacted.value(value).trim() })
      if (raw === "") return Either.right(undefined)
      return Option.match(parse(raw), {
        onNone: () => Either.left(ConfigError.InvalidData([name], `expected ${expected} (the value is a secret and is not shown)`)),
        onSome: (value) => Either.right(Redacted.make(value))
      })
    })
  )

/** `Redacted.value` of an optional secret, where it is used (a client's URL, a token check). */
export const reveal = <A>(secret: Redacted.Redacted<A> | undefined): A | undefined =>
  secret === undefined ? undefined : Redacted.value(secret)

/** Optional secret string (a token): unset or empty means "not configured". */
export const optionalSecret = (name: string): Config.Config<Redacted.Redacted<string> | undefined> =>
  optionalSecretOf(name, "a non-empty string", Option.some)

const urlWith = (protocols: ReadonlyArray<string>) => (raw: string): Option.Option<URL> => {
  if (!URL.canParse(raw)) return Option.none()
  const url = new URL(raw)
  return protocols.includes(url.protocol) && url.hostname !== "" ? Option.some(url) : Option.none()
}

/**
 * Optional URL with a host, one of `schemes` (e.g. "http:"). It may carry credentials
 * (`scheme://user:password@host/...`), so the whole URL is a secret.
 */
export const optionalSecretUrl = (
  name: string,
  schemes: ReadonlyArray<string>,
  expected: string
): Config.Config<Redacted.Redacted<URL> | undefined> => optionalSecretOf(name, expected, urlWith(schemes))

/** A filesystem path: non-empty, no NUL byte. */
export const path = (name: string, fallback: string) =>
  fromString(name, fallback, (raw) => raw !== "" && !raw.includes("\0") ? Either.right(raw) : invalid(name, "a directory path", raw))

export const flag = (name: string) =>
  fromString(name, "false", (raw) => {
    const lower = raw.toLowerCase()
    if (["1", "true", "yes"].includes(lower)) return Either.right(true)
    if (["", "0", "false", "no"].includes(lower)) return Either.right(false)
    return invalid(name, "true or false", raw)
  })
