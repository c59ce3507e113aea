// A draining server serving one app in the caller's scope, for tests that build a server by hand:
// DrainingServer.make, then serve(app) on its standard HttpServer. Closing the scope runs serve's
// drain, then the listener's backstop (as in the app).
import type { HttpApp } from "@effect/platform"
import { Effect } from "effect"
import * as DrainingServer from "../../src/http/server/DrainingServer.js"

export const servedListener = <R>(options: DrainingServer.Options, app: HttpApp.Default<never, R>) =>
  Effect.tap(DrainingServer.make(options), (listener) => listener.server.serve(app))
