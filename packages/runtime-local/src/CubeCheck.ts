/**
 * Whether the cube a run was split from is still the one in the blob store: checked before a
 * resume (and, on aws, a redrive) sets the run going again, since past its split a run reads
 * its cube's header for the catalog's WCS and its data to split a lost payload again
 * (docs/architecture.md, "A cube replaced under a run").
 *
 * One check, two ways of telling:
 * - `content` (local): the blob's SHA-256 must begin with the 16 hex digits its key carries
 *   (`Keys.cube`), so a copy imported again from the same file passes.
 * - `identity` (aws, where hashing would download the cube): a `BlobStore.stat` (a
 *   `HeadObject`) must give the ETag and size the split recorded. A run recorded before the
 *   split recorded them is not checked.
 *
 * @since 0.3.0
 */
import { BlobStore, Errors, Release, type RunTable } from "@phs/core"
import { Effect, Option } from "effect"
import * as crypto from "node:crypto"

/**
 * @since 0.3.0
 * @category models
 */
export type How = "content" | "identity"

/**
 * What of a run the check reads.
 *
 * @since 0.3.0
 * @category models
 */
export type CubeOfRun = Pick<RunTable.RunRecord, "runId" | "cubeKey" | "cubeEtag" | "cubeSize">

const HASH_READ_BYTES = 8 * 1024 * 1024

/**
 * SHA-256 (hex) of a blob of `size` bytes, read by ranges; "" when it is gone.
 *
 * @since 0.3.0
 * @category utils
 */
export const sha256Blob = (key: string, size: number): Effect.Effect<string, Errors.StorageError, BlobStore.BlobStore> =>
  Effect.gen(function* () {
    const store = yield* BlobStore.BlobStore
    const h = crypto.createHash("sha256")
    for (let offset = 0; offset < size; offset += HASH_READ_BYTES) {
      const piece = yield* store.getRange(key, offset, Math.min(HASH_READ_BYTES, size - offset))
      h.update(piece)
      // Hashed: freed now, not at the next full GC (a cube's worth of pieces forced several).
      Release.releaseWhole([piece])
    }
    return h.digest("hex")
  }).pipe(Effect.catchTag("BlobNotFound", () => Effect.succeed("")))

/** The hash prefix an imported cube's key carries (`Keys.cube`). */
const KEY_SHA = /-([0-9a-f]{16})\.fits$/

const again = (how: How) =>
  how === "content"
    ? "run phs pipeline again with the original file (same --survey) to import it again"
    : "run phs pipeline again with the original file (same --survey, --target aws) to put it back"

/**
 * Fails with a one-line `InvalidInput` when the run's cube is missing or is no longer the
 * cube the run was split from, saying how to put it back.
 *
 * @since 0.3.0
 * @category validation
 */
export const verify = (run: CubeOfRun, how: How): Effect.Effect<void, Errors.InvalidInput | Errors.StorageError, BlobStore.BlobStore> =>
  Effect.gen(function* () {
    const key = run.cubeKey
    const expectedSha = KEY_SHA.exec(key)?.[1]
    if (how === "content" ? expectedSha === undefined : run.cubeEtag === undefined) return
    const stat = yield* (yield* BlobStore.BlobStore).stat(key)
    if (Option.isNone(stat)) {
      return yield* new Errors.InvalidInput({
        reason:
          how === "content"
            ? `the run's cube ${key} is missing from the workdir; ${again(how)}`
            : `run ${run.runId}: its cube ${key} is gone from the bucket; ${again(how)}`
      })
    }
    if (how === "content") {
      if (!(yield* sha256Blob(key, stat.value.size)).startsWith(expectedSha ?? "")) {
        return yield* new Errors.InvalidInput({ reason: `the run's cube ${key} is damaged (its SHA-256 no longer matches its name); ${again(how)}` })
      }
      return
    }
    const now = stat.value
    if (now.etag !== run.cubeEtag || (run.cubeSize !== undefined && now.size !== run.cubeSize)) {
      return yield* new Errors.InvalidInput({
        reason: `run ${run.runId}: its cube ${key} was replaced in the bucket since the run was split (ETag ${run.cubeEtag} then, ${now.etag} now); ${again(how)}`
      })
    }
  })
