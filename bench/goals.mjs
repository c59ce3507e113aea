// Issue 21's goals as checks on one figure's same-run values ({ raw, stock, service, rawWs }), for
// the met/missed column of bench/RESULTS.md. A check answers null when a value it needs was not
// measured in this run (e.g. --servers=raw,service leaves stock out).
const measured = (...values) => values.every((value) => typeof value === "number")
/** service >= factor x the value of `key`, for each [factor, key] (higher is better). */
export const atLeast = (text, ...bounds) => ({
  text,
  check: (values) => (measured(values.service, ...bounds.map(([, key]) => values[key])) ? bounds.every(([factor, key]) => values.service >= factor * values[key]) : null)
})
/** service <= factor x the value of `key` (lower is better). */
export const atMost = (text, factor, key) => ({
  text,
  check: (values) => (measured(values.service, values[key]) ? values.service <= factor * values[key] : null)
})
/** service <= limit, in the figure's unit; a server that never exited (null) misses it. */
export const atMostAbsolute = (text, limit) => ({
  text,
  check: (values) => (values.service === undefined ? null : values.service !== null && values.service <= limit)
})

