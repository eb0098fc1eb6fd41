/**
 * The viewer's HTTP server: the API and page on 127.0.0.1 (never another interface), port
 * 0 for a free one; prints the page's URL once listening.
 */
import * as HttpServer from "@effect/platform/HttpServer"
import { Effect, Layer } from "effect"
import { createServer } from "node:http"
import { app, type Opening } from "./Api.js"
import * as Assets from "./Assets.js"

export const HOST = "127.0.0.1"

export interface ServerOptions {
  readonly port: number
  readonly opening: Opening
  /** Called with the page's URL once the server listens. */
  readonly onListen: (url: string) => Effect.Effect<void>
}

export const layer = (o: ServerOptions) =>
  Layer.unwrapEffect(
    // Loaded on use: Node's HTTP server stack (undici among it) costs every other command ~70 MiB.
    Effect.map(Effect.promise(() => import("@effect/platform-node/NodeHttpServer")), (NodeHttpServer) => {
      const assets = Assets.load()
      return HttpServer.serve(app(assets, o.opening)).pipe(
        Layer.merge(Layer.effectDiscard(HttpServer.addressFormattedWith((a) => o.onListen(`${a}/`)))),
        Layer.provide(NodeHttpServer.layer(() => createServer(), { port: o.port, host: HOST }))
      )
    })
  )
