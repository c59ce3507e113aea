// Reading the served OpenAPI document in tests: its operations, the errors each lists, and the
// Swagger UI page's embedded copy. Shared by the core's test (OpenApi.test.ts) and each feature's
// (test/jobs, test/upstream), so a deleted feature takes only its own rows with it.
import { expect } from "@effect/vitest"
import { Effect } from "effect"

export type Document = Record<string, any>

/** "get /jobs/{id}" -> the operation, as the document names it. */
export const operations = (document: Document): Map<string, Record<string, any>> => {
  const found = new Map<string, Record<string, any>>()
  for (const [path, methods] of Object.entries<any>(document.paths ?? {})) {
    for (const [method, operation] of Object.entries<any>(methods)) found.set(`${method} ${path}`, operation)
  }
  return found
}

/** An operation's error responses: status -> the error tags its schema names. */
export const errorsOf = (operation: Record<string, any>): Record<string, Array<string>> => {
  const errors: Record<string, Array<string>> = {}
  for (const [status, response] of Object.entries<any>(operation.responses ?? {})) {
    if (Number(status) < 400) continue
    const schema = response.content?.["application/json"]?.schema
    const refs: Array<any> = schema?.anyOf ?? [schema]
    errors[status] = refs.map((ref) => String(ref?.$ref ?? "(inline)").split("/").pop()!).sort()
  }
  return errors
}

/** What each route can answer, by the table of what its handler, decoding and body reading do. */
export const expectErrors = (document: Document, table: Record<string, Record<string, ReadonlyArray<string>>>) => {
  const all = operations(document)
  for (const [key, expected] of Object.entries(table)) {
    const operation = all.get(key)
    expect(operation, key).toBeDefined()
    const sorted = Object.fromEntries(Object.entries(expected).map(([status, tags]) => [status, [...tags].sort()]))
    expect({ [key]: errorsOf(operation!) }).toEqual({ [key]: sorted })
  }
}

/** The document Swagger UI (/docs) renders: embedded in its page as JSON. */
export const docsPageSpec = (baseUrl: string) =>
  Effect.promise(async () => {
    const html = await (await fetch(`${baseUrl}/docs`)).text()
    const embedded = html.match(/<script id="swagger-spec" type="application\/json">([\s\S]*?)<\/script>/)
    if (embedded === null) throw new Error("/docs does not embed its document")
    return JSON.parse(embedded[1]!) as Document
  })

/** Every `examples`/`example` value found under a key named `name`, anywhere in the document. */
export const examplesOf = (document: Document, name: string): Array<unknown> => {
  const found: Array<unknown> = []
  const visit = (value: unknown, key: string | undefined) => {
    if (Array.isArray(value)) return value.forEach((item) => visit(item, undefined))
    if (value === null || typeof value !== "object") return
    const record = value as Record<string, unknown>
    if (key === name || record.name === name) {
      if (Array.isArray(record.examples)) found.push(...record.examples)
      if ("example" in record) found.push(record.example)
      if (record.schema !== undefined && typeof record.schema === "object") visit(record.schema, name)
    }
    for (const [childKey, child] of Object.entries(record)) visit(child, childKey)
  }
  visit(document, undefined)
  return found
}
