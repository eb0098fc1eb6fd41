/**
 * Blobs by key: cubes, manifests, chunk payloads, Parquet files. A bucket on AWS, a
 * directory locally; the keys are the same (docs/architecture.md, "Blob layout"; `Keys`).
 *
 * @since 0.1.0
 */
import { Chunk, Context, Effect, Layer, Option, type Scope, Stream } from "effect"
import { readFileSync } from "node:fs"
import { BlobNotFound, StorageError } from "./Errors.js"

/**
 * What a store says of a blob without reading it: its size and an identity that changes
 * whenever the blob is written again (S3's ETag; locally the file's inode and mtime).
 *
 * @since 0.3.0
 * @category models
 */
export interface BlobStat {
  readonly size: number
  readonly etag: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface BlobStore {
  /** The whole blob. */
  readonly get: (key: string) => Effect.Effect<Uint8Array, BlobNotFound | StorageError>
  /** `length` bytes from `offset` (fewer only at the end of the blob). */
  readonly getRange: (key: string, offset: number, length: number) => Effect.Effect<Uint8Array, BlobNotFound | StorageError>
  /** Size in bytes, or none when there is no such blob. */
  readonly size: (key: string) => Effect.Effect<Option.Option<number>, StorageError>
  /** Size and identity (`BlobStat`), or none when there is no such blob. */
  readonly stat: (key: string) => Effect.Effect<Option.Option<BlobStat>, StorageError>
  /** Writes atomically: a reader sees the old blob or the new one, never a part. */
  readonly put: (key: string, bytes: Uint8Array) => Effect.Effect<void, StorageError>
  /** Writes a local file's content atomically without holding it in memory (a cube upload). */
  readonly putFile: (key: string, file: string) => Effect.Effect<void, StorageError>
  /**
   * Writes the bytes of a stream atomically as they come, without holding the blob in memory
   * (a compacted part): nothing is visible at `key` until the stream has ended, and a failed
   * or interrupted stream leaves the old blob (or none). The stream's error passes through.
   */
  readonly putStream: <E>(key: string, body: Stream.Stream<Uint8Array, E>) => Effect.Effect<void, StorageError | E>
  /** Keys under a prefix, sorted. */
  readonly list: (prefix: string) => Effect.Effect<ReadonlyArray<string>, StorageError>
  /** Removes a blob; removing a missing blob is not an error. */
  readonly remove: (key: string) => Effect.Effect<void, StorageError>
  /**
   * Optional: opens a blob for many range reads (the split's hundreds per block of a cube),
   * keeping what it opened (a file handle) until the scope closes. Each read gives the bytes
   * `getRange` gives. A store without it is read by `getRange` (`rangeReader`).
   */
  readonly openRanges?: (key: string) => Effect.Effect<RangeReader, BlobNotFound | StorageError, Scope.Scope>
}

/**
 * A blob opened for range reads: its size when opened, and `length` bytes from `offset`
 * (fewer only at the end of the blob), as `BlobStore.getRange`.
 *
 * @since 0.4.0
 * @category models
 */
export interface RangeReader {
  readonly size: number
  readonly read: (offset: number, length: number) => Effect.Effect<Uint8Array, BlobNotFound | StorageError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export const BlobStore = Context.GenericTag<BlobStore>("@phs/core/BlobStore")

/**
 * A reader of one blob's ranges for the current scope: the store's `openRanges` where it has
 * one, else its size and `getRange` per read. Fails with `BlobNotFound` when there is no blob.
 *
 * @since 0.4.0
 * @category combinators
 */
export const rangeReader = (key: string): Effect.Effect<RangeReader, BlobNotFound | StorageError, BlobStore | Scope.Scope> =>
  Effect.flatMap(BlobStore, (store) =>
    store.openRanges !== undefined
      ? store.openRanges(key)
      : Effect.flatMap(store.size(key), (size) =>
          Option.isNone(size)
            ? Effect.fail(new BlobNotFound({ key }))
            : Effect.succeed<RangeReader>({ size: size.value, read: (offset, length) => store.getRange(key, offset, length) })
        )
  )

/**
 * The largest blob every store puts and gets whole: 2 GiB − 1 bytes. The file store reads a
 * blob with one `readFile` (Node refuses files of 2 GiB and more); S3 takes 5 GiB in one PUT.
 * Chunk planning keeps every payload under it (CubeLimits.chunkSpectra).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_BLOB_BYTES = 2 ** 31 - 1

/**
 * Refuses keys that could escape their prefix: absolute, `..` segments, backslashes,
 * empty segments or control characters.
 *
 * @since 0.1.0
 * @category validation
 */
export const isSafeKey = (key: string): boolean =>
  key.length > 0 &&
  key.length <= 1024 &&
  !key.startsWith("/") &&
  !key.includes("\\") &&
  // eslint-disable-next-line no-control-regex
  !/[\u0000-\u001f\u007f]/.test(key) &&
  key.split("/").every((seg) => seg.length > 0 && seg !== "." && seg !== "..")

/**
 * An in-memory store, for tests.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (): BlobStore => {
  const blobs = new Map<string, Uint8Array>()
  // A blob's identity: the count of puts when it was written.
  const etags = new Map<string, string>()
  let puts = 0
  const set = (key: string, bytes: Uint8Array) => {
    blobs.set(key, bytes)
    etags.set(key, `m${++puts}`)
  }
  const find = (key: string) =>
    Effect.suspend(() => {
      const b = blobs.get(key)
      return b === undefined ? Effect.fail(new BlobNotFound({ key })) : Effect.succeed(b)
    })
  const checked = <A, E>(key: string, operation: string, f: () => Effect.Effect<A, E>) =>
    isSafeKey(key)
      ? Effect.suspend(f)
      : Effect.fail(new StorageError({ operation, key, reason: "unsafe key", retryable: false }))
  return {
    get: (key) => checked(key, "get", () => find(key).pipe(Effect.map((b) => b.slice()))),
    getRange: (key, offset, length) =>
      checked(key, "getRange", () => find(key).pipe(Effect.map((b) => b.slice(offset, offset + length)))),
    size: (key) => checked(key, "size", () => Effect.sync(() => Option.fromNullable(blobs.get(key)?.length))),
    stat: (key) =>
      checked(key, "stat", () =>
        Effect.sync(() => Option.map(Option.fromNullable(blobs.get(key)), (b) => ({ size: b.length, etag: etags.get(key) ?? "" })))
      ),
    put: (key, bytes) => checked(key, "put", () => Effect.sync(() => set(key, bytes.slice()))),
    putFile: (key, file) =>
      checked(key, "putFile", () =>
        Effect.try({
          try: () => set(key, new Uint8Array(readFileSync(file))),
          catch: (e) => new StorageError({ operation: "putFile", key, reason: e instanceof Error ? e.message : String(e), retryable: false })
        })
      ),
    putStream: (key, body) =>
      checked(key, "putStream", () =>
        Effect.map(Stream.runCollect(body), (pieces) => {
          const all = new Uint8Array(Chunk.reduce(pieces, 0, (n, p) => n + p.length))
          Chunk.reduce(pieces, 0, (at, p) => (all.set(p, at), at + p.length))
          set(key, all)
        })
      ),
    list: (prefix) => Effect.sync(() => [...blobs.keys()].filter((k) => k.startsWith(prefix)).sort()),
    remove: (key) =>
      checked(key, "remove", () =>
        Effect.sync(() => {
          blobs.delete(key)
          etags.delete(key)
        })
      )
  }
}

/**
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<BlobStore> = Layer.sync(BlobStore, makeMemory)
