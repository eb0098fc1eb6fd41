/**
 * What `phs pipeline --target aws` puts in the bucket: the manifest, and the run id the
 * splitter will derive from it. The id is computed here with the splitter's own code,
 * `Pipeline.prepare` (manifest checks, resolved parameters, the cube's SHA-256, the code
 * version `phs-{core}+fit-{native}`), over the local file instead of the bucket's copy of it
 * (the same bytes).
 */
import { BlobStore, Errors, Fitter, type Params, Pipeline, type Tasks } from "@phs/core"
import { Effect, Layer, Option } from "effect"
import * as fs from "node:fs"

const unsupported = (operation: string, key: string) =>
  Effect.fail(new Errors.StorageError({ operation, key, reason: "read-only local cube", retryable: false }))

/** A read-only blob store holding one blob, `key`, whose bytes are those of a local file. */
export const localCube = (key: string, file: string): BlobStore.BlobStore => {
  const read = (offset: number, length: number) =>
    Effect.acquireUseRelease(
      Effect.try({
        try: () => fs.openSync(file, "r"),
        catch: (e) => new Errors.StorageError({ operation: "read", key, reason: e instanceof Error ? e.message : String(e), retryable: false })
      }),
      (fd) =>
        Effect.sync(() => {
          const buf = Buffer.alloc(Math.max(0, length))
          const n = fs.readSync(fd, buf, 0, buf.length, offset)
          return new Uint8Array(buf.buffer, buf.byteOffset, n)
        }),
      (fd) => Effect.sync(() => fs.closeSync(fd))
    )
  const size = (k: string) => Effect.sync(() => (k === key ? Option.some(fs.statSync(file).size) : Option.none<number>()))
  return {
    size,
    stat: (k) => unsupported("stat", k),
    get: (k) => (k === key ? Effect.flatMap(size(k), (s) => read(0, Option.getOrElse(s, () => 0))) : Effect.fail(new Errors.BlobNotFound({ key: k }))),
    getRange: (k, offset, length) => (k === key ? read(offset, length) : Effect.fail(new Errors.BlobNotFound({ key: k }))),
    put: (k) => unsupported("put", k),
    putFile: (k) => unsupported("putFile", k),
    putStream: (k) => unsupported("putStream", k),
    list: () => Effect.succeed([]),
    remove: (k) => unsupported("remove", k)
  }
}

/**
 * The split input (run id included) the splitter will derive from `manifest` once its cube
 * is in the bucket: `Pipeline.prepare` over the local file.
 */
export const predict = (manifest: typeof Params.Manifest.Encoded, file: string): Effect.Effect<Tasks.SplitInput, Errors.InvalidInput | Errors.StorageError> =>
  Pipeline.prepare(manifest).pipe(
    Effect.provide(Layer.merge(Layer.succeed(BlobStore.BlobStore, localCube(manifest.cube_key, file)), Fitter.layerNative({ threads: 1 })))
  )
