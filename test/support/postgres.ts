// Postgres for tests: each caller gets a fresh schema in TEST_DATABASE_URL's database and a URL
// whose connections use only that schema (search_path), dropped when the test file ends. When
// Postgres was not reachable at setup (globalSetup.ts), `postgresUrl` is null and the callers
// skip with `describe.skipIf(postgresUrl === null)`.
import pg from "pg"
import { afterAll, inject } from "vitest"

export const postgresUrl: string | null = inject("postgresUrl")

const admin = async <A>(f: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = new pg.Client({ connectionString: postgresUrl!, connectionTimeoutMillis: 5_000 })
  client.on("error", () => undefined)
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** The URL with every connection's search_path set to `schema`. */
export const urlForSchema = (schema: string): string => {
  const url = new URL(postgresUrl!)
  url.searchParams.set("options", `-c search_path=${schema}`)
  return url.toString()
}

const made = new Set<string>()
// Registered when a test file imports this module, so it runs after that file's tests; a hook
// registered inside a test (where freshSchema is usually called) would be ignored.
afterAll(async () => {
  if (made.size === 0) return
  const schemas = Array.from(made)
  made.clear()
  await admin((client) => client.query(schemas.map((schema) => `DROP SCHEMA IF EXISTS ${schema} CASCADE`).join("; ")))
})

/** A new empty schema (dropped with everything in it after the file's tests) and its URL. */
export const freshSchema = async (): Promise<{ readonly schema: string; readonly url: string }> => {
  const schema = `t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`
  await admin((client) => client.query(`CREATE SCHEMA ${schema}`))
  made.add(schema)
  return { schema, url: urlForSchema(schema) }
}

/** One query against the schema, for tests that inspect the store's rows. */
export const query = <Row extends Record<string, unknown>>(url: string, text: string, values: ReadonlyArray<unknown> = []) =>
  (async () => {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 })
    client.on("error", () => undefined)
    await client.connect()
    try {
      return (await client.query<Row>(text, values as Array<unknown>)).rows
    } finally {
      await client.end().catch(() => undefined)
    }
  })()
