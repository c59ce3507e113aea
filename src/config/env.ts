// Typed readers for environment variables. Each one names its variable in the error and says
// what form was expected, so a bad value stops startup with a line a human can act on.
import { Config, ConfigError, Either } from "effect"

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

/** Optional secret: unset or empty means "not configured". */
export const optionalSecret = (name: string): Config.Config<string | undefined> =>
  fromString(name, "", (raw) => Either.right(raw === "" ? undefined : raw))

/** A filesystem path: non-empty, no NUL byte. */
export const path = (name: string, fallback: string) =>
  fromString(name, fallback, (raw) => raw !== "" && !raw.includes("\0") ? Either.right(raw) : invalid(name, "a directory path", raw))

/** Optional http(s) URL: unset or empty means "not configured". */
export const optionalUrl = (name: string): Config.Config<URL | undefined> =>
  fromString(name, "", (raw) => {
    if (raw === "") return Either.right(undefined)
    try {
      const url = new URL(raw)
      if (url.protocol === "http:" || url.protocol === "https:") return Either.right(url)
    } catch {
      // fall through to the error below
    }
    return invalid(name, "an http:// or https:// URL", raw)
  })

export const flag = (name: string) =>
  fromString(name, "false", (raw) => {
    const lower = raw.toLowerCase()
    if (["1", "true", "yes"].includes(lower)) return Either.right(true)
    if (["", "0", "false", "no"].includes(lower)) return Either.right(false)
    return invalid(name, "true or false", raw)
  })
