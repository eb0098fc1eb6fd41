/**
 * A refit worker thread (started by {@link RefitPool}): refits the chunks it is sent, one at
 * a time, with the same {@link refitChunk} the stage runs inline.
 *
 * Compiled, it runs from dist like the rest of core (the CLI, the Lambda image). Under vitest,
 * which runs the TypeScript sources, the pool starts this file itself and Node strips its
 * types; the hook below then resolves what the sources import as vitest.config.ts does (a
 * `./x.js` import to `./x.ts`, `@phs/fit-native` to its source), so both threads run the
 * same code. Hence only `node:` modules are imported statically here.
 *
 * @since 0.3.0
 */
import * as fs from "node:fs"
import * as module from "node:module"
import { fileURLToPath } from "node:url"
import { parentPort } from "node:worker_threads"
import type { RefitReply, RefitRequest } from "./RefitPool.js"

if (import.meta.url.endsWith(".ts")) {
  const fitNative = new URL("../../../fit-native/src/index.ts", import.meta.url).href
  module.registerHooks({
    resolve: (specifier, context, next) => {
      if (specifier === "@phs/fit-native") return next(fitNative, context)
      if (context.parentURL?.endsWith(".ts") === true && specifier.startsWith(".") && specifier.endsWith(".js")) {
        const source = new URL(`${specifier.slice(0, -3)}.ts`, context.parentURL)
        if (fs.existsSync(fileURLToPath(source))) return next(source.href, context)
      }
      return next(specifier, context)
    }
  })
}

const { refitChunk } = await import("./RefitChunk.js")
const { RefitInputError } = await import("./RefitBlock.js")
const { buffersOf, fromRows, toRows } = await import("../RowBatch.js")

const port = parentPort
if (port === null) throw new Error("RefitWorker.js runs as a worker thread of RefitPool")

port.on("message", ({ id, chunk }: RefitRequest) => {
  let reply: RefitReply
  try {
    reply = { id, _tag: "Rows", rows: fromRows(refitChunk({ ...chunk, rows: toRows(chunk.rows) })) }
  } catch (e) {
    reply =
      e instanceof RefitInputError
        ? { id, _tag: "RefitInputError", reason: e.reason }
        : { id, _tag: "Thrown", reason: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }
  }
  port.postMessage(reply, reply._tag === "Rows" ? buffersOf(reply.rows) : [])
})
