// A TCP proxy a test can cut and restore: "the database went down" without stopping the shared
// database. Cut: every proxied connection is destroyed and new ones are refused (the port is
// closed); restore: the same port accepts and forwards again.
import { Effect } from "effect"
import * as Net from "node:net"
import { freshSchema, postgresUrl } from "./postgres.js"

export interface TcpProxy {
  readonly port: number
  readonly cut: () => Promise<void>
  readonly restore: () => Promise<void>
  readonly close: () => Promise<void>
}

export const startTcpProxy = async (target: { readonly host: string; readonly port: number }): Promise<TcpProxy> => {
  const sockets = new Set<Net.Socket>()
  const server = Net.createServer((client) => {
    const upstream = Net.connect(target.port, target.host)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on("error", () => undefined)
      socket.on("close", () => {
        sockets.delete(socket)
        client.destroy()
        upstream.destroy()
      })
    }
    client.pipe(upstream)
    upstream.pipe(client)
  })
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject)
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject)
        resolve((server.address() as Net.AddressInfo).port)
      })
    })
  const port = await listen(0)
  const cut = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy()
      if (!server.listening) return resolve()
      server.close(() => resolve())
    })
  return {
    port,
    cut,
    restore: async () => {
      if (!server.listening) await listen(port)
    },
    close: cut
  }
}

/** A fresh schema on the test Postgres, reached through a proxy the test can cut: its URL through
 * the proxy, and the proxy (closed with the scope). */
export const proxiedPostgres = Effect.gen(function*() {
  const target = new URL(postgresUrl!)
  const proxy = yield* Effect.acquireRelease(
    Effect.promise(() => startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) })),
    (proxy) => Effect.promise(() => proxy.close())
  )
  const { url } = yield* Effect.promise(() => freshSchema())
  const viaProxy = new URL(url)
  viaProxy.port = String(proxy.port)
  return { proxy, url: viaProxy.href }
})
