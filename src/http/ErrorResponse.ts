// Every error body on the wire is {"error": "<Tag>", "message": "..."}.
import { HttpServerResponse } from "@effect/platform"

export const errorResponse = (
  status: number,
  error: string,
  message: string,
  headers: Record<string, string> = {}
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson({ error, message }, { status, headers })

/** The raw-node twin, for requests answered before any fiber runs (listener already closed). */
export const errorBody = (error: string, message: string): string => JSON.stringify({ error, message })
