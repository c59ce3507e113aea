/**
 * What serving an HttpApp on Node needs from the platform: HttpPlatform (file and web-file
 * responses), Etag, FileSystem and Path (HttpApiBuilder.serve and the docs' static files). It is
 * NodeHttpServer.layerContext without NodeContext's CommandExecutor, Terminal and Worker manager,
 * which nothing here uses: building them was start-up time for nothing (issue 21).
 * Owns: nothing (the platform's layers own what they build; none holds a resource).
 * Does not own: the server, the app.
 * Released when: with the scope of whoever builds it (nothing of its own to release).
 */
import { Etag } from "@effect/platform"
import { NodeFileSystem, NodeHttpPlatform, NodePath } from "@effect/platform-node"
import { Layer } from "effect"

export const layer = Layer.mergeAll(NodeHttpPlatform.layer, Etag.layerWeak, NodeFileSystem.layer, NodePath.layer)
