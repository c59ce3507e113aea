// The public API before any group: its id, the errors any request can meet whichever route it
// names, and its document's title. The core groups (CoreApi.ts) and every feature's group are
// added to it once, statically, in src/App.ts (`class Api extends BaseApi.add(...)`); a group's
// handlers are built against `BaseApi.add(TheGroup)`, which names the same API ("public").
import { HttpApi, OpenApi } from "@effect/platform"
import * as ApiDocument from "./ApiDocument.js"
import { Wire } from "./ApiErrors.js"

/** The errors here: an unknown route, a request-target that is not a URL, a body announced over
 * 1 MiB, a defect. Declared on the API so the API encodes them for every request, core or
 * feature. The document lists them once, in its description, and on an operation only where the
 * operation declares them (ApiDocument). */
export const BaseApi = HttpApi.make("public")
  .addError(Wire.BadRequest)
  .addError(Wire.NotFound)
  .addError(Wire.PayloadTooLarge)
  .addError(Wire.InternalServerError)
  .annotate(OpenApi.Title, "owned-service public API")
  .annotate(OpenApi.Version, "0.1.0")
  .annotate(OpenApi.Description, ApiDocument.anyRouteAnswers)
