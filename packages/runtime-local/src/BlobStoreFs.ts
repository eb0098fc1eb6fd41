/**
 * Blobs as files: key `a/b/c` is the file `<root>/a/b/c`. A put writes a hidden temporary
 * file beside the target, syncs it and renames it over the target, so a reader sees the
 * old blob or the new one, never a part. Keys that could leave the root are refused.
 *
 * `putFile` hard-links the source file when it is on the same file system (no second copy
 * of a large cube), and copies it otherwise: the blob then shares its bytes with the source,
 * so a caller that needs them unchanged verifies them on use (LocalRun does, by hash).
 *
 * @since 0.1.0
 */
import { BlobStore, Errors } from "@phs/core"
import { Effect, Layer, Option, Stream } from "effect"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { makeDirs } from "./Dirs.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The directory holding the blobs; created if missing. */
  readonly root: string
}

/** Temporary files of unfinished puts: `.<name>.<16 hex>.tmp`. */
const TEMP = /^\..+\.[0-9a-f]{16}\.tmp$/

const RETRYABLE = Errors.TRANSIENT_OS_CODES
/** Codes meaning "no blob at this key": the path is missing, or runs through a file, or is a directory. */
const ABSENT = new Set(["ENOENT", "ENOTDIR", "EISDIR"])

const codeOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error ? String((error as { code: unknown }).code) : undefined

const isAbsent = (error: unknown): boolean => ABSENT.has(codeOf(error) ?? "")

const fsError = (operation: string, key: string, error: unknown): Errors.StorageError =>
  Errors.storageError(operation, error, { key, retryable: RETRYABLE.has(codeOf(error) ?? "") })

const readError = (operation: string, key: string, error: unknown): Errors.BlobNotFound | Errors.StorageError =>
  isAbsent(error) ? new Errors.BlobNotFound({ key }) : fsError(operation, key, error)

const unsafe = (operation: string, key: string) =>
  new Errors.StorageError({ operation, key, reason: "unsafe key", retryable: false })

const asBytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)

/** Best effort: makes a rename durable by syncing its directory (not possible everywhere). */
const syncDir = async (dir: string): Promise<void> => {
  const handle = await fs.promises.open(dir, "r").catch(() => undefined)
  if (handle === undefined) return
  await handle.sync().catch(() => undefined)
  await handle.close()
}

/** Codes of a hard link the file system cannot make here: another device, or no links. */
const NO_LINK = new Set(["EXDEV", "EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EMLINK"])

/** Hard-links `source` as `temp` where the file system allows it, else copies it. */
const linkOrCopy = async (source: string, temp: string): Promise<void> => {
  try {
    await fs.promises.link(source, temp)
  } catch (error) {
    if (!NO_LINK.has(codeOf(error) ?? "")) throw error
    await fs.promises.copyFile(source, temp, fs.constants.COPYFILE_EXCL)
  }
}

const writeAtomically = async (file: string, bytes: Uint8Array | { readonly copyOf: string }): Promise<void> => {
  const dir = path.dirname(file)
  await makeDirs(dir)
  const temp = path.join(dir, `.${path.basename(file)}.${randomBytes(8).toString("hex")}.tmp`)
  try {
    if ("copyOf" in bytes) await linkOrCopy(bytes.copyOf, temp)
    // Read-only for a linked or copied file: fsync needs no write access (the user's file may be read-only).
    const handle = await fs.promises.open(temp, "copyOf" in bytes ? "r" : "wx")
    try {
      if (!("copyOf" in bytes)) await handle.writeFile(bytes)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await fs.promises.rename(temp, file)
  } catch (error) {
    await fs.promises.rm(temp, { force: true }).catch(() => undefined)
    throw error
  }
  await syncDir(dir)
}

/**
 * Streams `body` into a hidden temporary file beside `file`, syncs it and renames it over
 * `file`; a failed or interrupted stream removes the temporary file and leaves `file` as it was.
 */
const writeStreamAtomically = <E>(key: string, file: string, body: Stream.Stream<Uint8Array, E>) => {
  const dir = path.dirname(file)
  const temp = path.join(dir, `.${path.basename(file)}.${randomBytes(8).toString("hex")}.tmp`)
  const fail = (error: unknown) => fsError("putStream", key, error)
  return Effect.acquireUseRelease(
    Effect.tryPromise({
      try: async () => {
        await makeDirs(dir)
        return fs.promises.open(temp, "wx")
      },
      catch: fail
    }),
    (handle) =>
      Effect.gen(function* () {
        yield* Stream.runForEach(body, (bytes) => Effect.tryPromise({ try: () => handle.writeFile(bytes), catch: fail }))
        yield* Effect.tryPromise({ try: () => handle.sync(), catch: fail })
      }),
    (handle, exit) =>
      Effect.promise(async () => {
        await handle.close().catch(() => undefined)
        if (exit._tag === "Failure") await fs.promises.rm(temp, { force: true }).catch(() => undefined)
      })
  ).pipe(
    Effect.zipRight(Effect.tryPromise({ try: () => fs.promises.rename(temp, file), catch: fail })),
    Effect.tapError(() => Effect.promise(() => fs.promises.rm(temp, { force: true }).catch(() => undefined))),
    Effect.zipRight(Effect.promise(() => syncDir(dir)))
  )
}

/** `length` bytes from `offset` of an open file (fewer only at its end). */
const readFrom = async (handle: fs.promises.FileHandle, offset: number, length: number): Promise<Uint8Array> => {
  // Not zero-filled: only the bytes read are returned.
  const buffer = Buffer.allocUnsafe(length)
  let filled = 0
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, offset + filled)
    if (bytesRead === 0) break
    filled += bytesRead
  }
  return asBytes(buffer.subarray(0, filled))
}

const readRange = async (file: string, offset: number, length: number): Promise<Uint8Array> => {
  const handle = await fs.promises.open(file, "r")
  try {
    return await readFrom(handle, offset, length)
  } finally {
    await handle.close()
  }
}

const validRange = (offset: number, length: number): boolean =>
  Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0

const invalidRange = (key: string, offset: number, length: number) =>
  new Errors.StorageError({ operation: "getRange", key, reason: `invalid range ${offset}+${length}`, retryable: false })

/** Every blob key under `dir` (relative to the root, `/`-separated); a missing dir has none. */
const walk = async (root: string, dir: string): Promise<Array<string>> => {
  const entries = await fs.promises.readdir(path.join(root, dir), { withFileTypes: true }).catch((error: unknown) => {
    if (isAbsent(error)) return []
    throw error
  })
  const keys: Array<string> = []
  for (const e of entries) {
    const key = dir === "" ? e.name : `${dir}/${e.name}`
    if (e.isDirectory()) keys.push(...(await walk(root, key)))
    else if (e.isFile() && !TEMP.test(e.name)) keys.push(key)
  }
  return keys
}

/**
 * Removes the temporary files of puts that never finished (their process was killed) under
 * the store's `root`: those last modified before `before` (epoch ms). A driver calls it with
 * the time it took the workdir's lock, so a temp file of a live put (only the lock holder
 * writes blobs) is never touched. Returns how many files were removed.
 *
 * @since 0.1.0
 * @category maintenance
 */
export const removeStaleTemps = (root: string, before: number): Effect.Effect<number, Errors.StorageError> =>
  Effect.tryPromise({
    try: async () => {
      const entries = await fs.promises.readdir(root, { recursive: true, withFileTypes: true }).catch((error: unknown) => {
        if (isAbsent(error)) return []
        throw error
      })
      let removed = 0
      for (const e of entries) {
        if (!e.isFile() || !TEMP.test(e.name)) continue
        const file = path.join(e.parentPath, e.name)
        const stat = await fs.promises.stat(file).catch(() => undefined)
        if (stat === undefined || stat.mtimeMs >= before) continue
        await fs.promises.rm(file, { force: true })
        removed++
      }
      return removed
    },
    catch: (error) => fsError("remove stale temporary files", root, error)
  })

/**
 * A blob store rooted at a directory.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<BlobStore.BlobStore, Errors.StorageError> =>
  Effect.gen(function* () {
    const root = path.resolve(options.root)
    yield* Effect.tryPromise({
      try: () => makeDirs(root),
      catch: (error) => fsError("open blob store", root, error)
    })

    /** The file of a key, or a refusal when the key could resolve outside the root. */
    const fileOf = (operation: string, key: string): Effect.Effect<string, Errors.StorageError> => {
      if (!BlobStore.isSafeKey(key)) return Effect.fail(unsafe(operation, key))
      const file = path.resolve(root, key)
      return file.startsWith(root + path.sep) ? Effect.succeed(file) : Effect.fail(unsafe(operation, key))
    }

    /** A file's size, and as its identity its inode and mtime (a put renames a new file in; an edit in place moves the mtime). */
    const statOf = (operation: string, key: string): Effect.Effect<Option.Option<BlobStore.BlobStat>, Errors.StorageError> =>
      Effect.flatMap(fileOf(operation, key), (file) =>
        Effect.tryPromise({
          try: async () => {
            const stat = await fs.promises.stat(file, { bigint: true }).catch((error: unknown) => {
              if (isAbsent(error)) return undefined
              throw error
            })
            return stat !== undefined && stat.isFile()
              ? Option.some({ size: Number(stat.size), etag: `${stat.ino.toString(16)}-${stat.mtimeNs.toString(16)}` })
              : Option.none()
          },
          catch: (error) => fsError(operation, key, error)
        })
      )

    const read = <A>(operation: string, key: string, f: (file: string) => Promise<A>) =>
      Effect.flatMap(fileOf(operation, key), (file) =>
        Effect.tryPromise({ try: () => f(file), catch: (error) => readError(operation, key, error) })
      )

    return BlobStore.BlobStore.of({
      get: (key) => read("get", key, async (file) => asBytes(await fs.promises.readFile(file))),

      getRange: (key, offset, length) =>
        validRange(offset, length) ? read("getRange", key, (file) => readRange(file, offset, length)) : Effect.fail(invalidRange(key, offset, length)),

      // One handle for every read of the scope: no open and close per range.
      openRanges: (key) =>
        Effect.gen(function* () {
          const handle = yield* Effect.acquireRelease(
            read("openRanges", key, (file) => fs.promises.open(file, "r")),
            (h) => Effect.promise(() => h.close().catch(() => undefined))
          )
          const stat = yield* Effect.tryPromise({ try: () => handle.stat(), catch: (error) => readError("openRanges", key, error) })
          if (!stat.isFile()) return yield* Effect.fail(new Errors.BlobNotFound({ key }))
          return {
            size: stat.size,
            read: (offset: number, length: number) =>
              validRange(offset, length)
                ? Effect.tryPromise({ try: () => readFrom(handle, offset, length), catch: (error) => readError("getRange", key, error) })
                : Effect.fail(invalidRange(key, offset, length))
          }
        }),

      size: (key) => Effect.map(statOf("size", key), Option.map((s) => s.size)),

      stat: (key) => statOf("stat", key),

      put: (key, bytes) =>
        Effect.flatMap(fileOf("put", key), (file) =>
          Effect.tryPromise({ try: () => writeAtomically(file, bytes), catch: (error) => fsError("put", key, error) })
        ),

      putFile: (key, source) =>
        Effect.flatMap(fileOf("putFile", key), (file) =>
          Effect.tryPromise({ try: () => writeAtomically(file, { copyOf: source }), catch: (error) => fsError("putFile", key, error) })
        ),

      putStream: (key, body) => Effect.flatMap(fileOf("putStream", key), (file) => writeStreamAtomically(key, file, body)),

      list: (prefix) => {
        const slash = prefix.lastIndexOf("/")
        const dir = slash < 0 ? "" : prefix.slice(0, slash)
        // No safe key starts with a prefix whose directory part is unsafe: nothing to walk.
        if (dir !== "" && !BlobStore.isSafeKey(dir)) return Effect.succeed([])
        return Effect.tryPromise({
          try: async () => (await walk(root, dir)).filter((k) => k.startsWith(prefix)).sort(),
          catch: (error) => fsError("list", prefix, error)
        })
      },

      remove: (key) =>
        Effect.flatMap(fileOf("remove", key), (file) =>
          Effect.tryPromise({
            try: () =>
              fs.promises.unlink(file).catch((error: unknown) => {
                if (!isAbsent(error)) throw error
              }),
            catch: (error) => fsError("remove", key, error)
          })
        )
    })
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<BlobStore.BlobStore, Errors.StorageError> =>
  Layer.effect(BlobStore.BlobStore, make(options))
