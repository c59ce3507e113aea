// Once per test run: build dist/main.js if its inputs changed since the last build (process tests
// run the real entry point; scripts/build-inputs.mjs decides, and one log line says which), and find out
// whether the shared services the fleet tests need are reachable (Postgres; see postgres.ts).
// A machine without them skips those tests and says so here; REQUIRE_SERVICES=1 (.ci/run) turns
// that skip into a failure, so CI cannot pass without having run them.
import { execFileSync } from "node:child_process"
import type { TestProject } from "vitest/node"
import pg from "pg"
import { buildDecision } from "../../scripts/build-inputs.mjs"

declare module "vitest" {
  export interface ProvidedContext {
    /** TEST_DATABASE_URL when Postgres answered at setup, else null (those tests skip). */
    readonly postgresUrl: string | null
  }
}

export const DEFAULT_TEST_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test"

const probe = async (url: string): Promise<string | undefined> => {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 })
  client.on("error", () => undefined)
  try {
    await client.connect()
    await client.query("SELECT 1")
    return undefined
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  } finally {
    await client.end().catch(() => undefined)
  }
}

export default async function setup(project: TestProject) {
  const build = buildDecision(process.cwd())
  if (build.rebuild) {
    console.log(`globalSetup: building dist/main.js: ${build.reason}`)
    execFileSync(process.execPath, ["scripts/build.mjs"], { stdio: "inherit" })
  } else {
    console.log(`globalSetup: not rebuilding dist/main.js: ${build.reason}`)
  }
  const url = process.env.TEST_DATABASE_URL || DEFAULT_TEST_DATABASE_URL
  const problem = await probe(url)
  if (problem !== undefined) {
    const message = `Postgres is not reachable at ${url.replace(/\/\/[^@/]*@/, "//***@")} (${problem}): ` +
      "the Postgres job store tests are SKIPPED. Set TEST_DATABASE_URL, or start Postgres (see README, Tests)."
    if (process.env.REQUIRE_SERVICES === "1") throw new Error(`REQUIRE_SERVICES=1: ${message}`)
    console.warn(`\n*** ${message}\n`)
  }
  project.provide("postgresUrl", problem === undefined ? url : null)
}
