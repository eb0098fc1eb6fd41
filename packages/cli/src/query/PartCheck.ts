/**
 * After a local query is accepted and before its first row: every completed run's published
 * parts checked against its `_validation.json` as `phs verify` checks them (size and SHA-256,
 * core's PartIntegrity), so rows read from a damaged part come with a warning.
 *
 * Every part is checked, not only those the statement reads: DuckDB decides which files it
 * opens (partition pruning, `count(*)` from the footers) only as it runs, and the warning
 * comes before the rows. What keeps it cheap is the workdir's hash cache (`HASH_CACHE_FILE`,
 * beside phs.sqlite, which stays untouched): a part whose path, size, mtime and inode are
 * those it had when it was last hashed is not read again, so an unchanged table costs one
 * `stat` per part. `phs verify` never uses the cache: it always reads the parts back.
 */
import { type BlobStore, type Errors, PartIntegrity, RunTable } from "@phs/core"
import { RuntimeLocal } from "@phs/runtime-local"
import { Effect, Option, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"

/** The cache of part hashes, in the workdir (a file of its own: `phs query` leaves phs.sqlite as it was). */
export const HASH_CACHE_FILE = "part-hashes.json"

/**
 * A hash is cached only for a part last modified this long before it was read: a write in
 * the same timestamp tick as the read (coarse file clocks; 2 s on FAT) would otherwise leave
 * the mtime the cache holds on changed bytes.
 */
const SETTLED_MS = 2_000

const Entry = Schema.Struct({ bytes: Schema.Int, mtimeNs: Schema.String, ino: Schema.String, sha256: Schema.String })
type Entry = typeof Entry.Type
const CacheFile = Schema.parseJson(Schema.Struct({ version: Schema.Literal(1), parts: Schema.Record({ key: Schema.String, value: Entry }) }))

/** The cache as the last query left it; empty when there is none or it is unreadable (it is only a cache). */
const readCache = (file: string): Effect.Effect<Readonly<Record<string, Entry>>> =>
  Effect.sync(() => {
    try {
      return Option.match(Schema.decodeUnknownOption(CacheFile)(fs.readFileSync(file, "utf8")), { onNone: () => ({}), onSome: (c) => c.parts })
    } catch {
      return {}
    }
  })

/** Replaces the cache at once (a reader sees the old one or the new one); a workdir that cannot be written keeps none. */
const writeCache = (file: string, parts: Readonly<Record<string, Entry>>): Effect.Effect<void> =>
  Effect.sync(() => {
    const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`)
    try {
      fs.writeFileSync(temp, Schema.encodeSync(CacheFile)({ version: 1, parts }))
      fs.renameSync(temp, file)
    } catch {
      fs.rmSync(temp, { force: true })
    }
  })

const statOf = (file: string): Option.Option<fs.BigIntStats> => {
  try {
    return Option.some(fs.statSync(file, { bigint: true }))
  } catch {
    return Option.none()
  }
}

/**
 * The damage of every completed run's parts in a workdir, one line per damaged part: which,
 * what is wrong, and what to run. Hashes only parts that changed since the cache last saw them.
 */
export const damageLines = (
  workdir: string
): Effect.Effect<ReadonlyArray<string>, Errors.StorageError | Errors.RunNotFound, RunTable.RunTable | BlobStore.BlobStore> =>
  Effect.gen(function* () {
    const cacheFile = path.join(workdir, HASH_CACHE_FILE)
    const root = path.resolve(RuntimeLocal.blobRoot(workdir))
    const cached = yield* readCache(cacheFile)
    const seen: Record<string, Entry> = {}
    const digest: PartIntegrity.Digest = (key) =>
      Effect.gen(function* () {
        const stat = statOf(path.resolve(root, key))
        if (Option.isNone(stat)) return yield* PartIntegrity.digest(key)
        const at = { bytes: Number(stat.value.size), mtimeNs: String(stat.value.mtimeNs), ino: String(stat.value.ino) }
        const hit = cached[key]
        if (hit !== undefined && hit.bytes === at.bytes && hit.mtimeNs === at.mtimeNs && hit.ino === at.ino) {
          seen[key] = hit
          return Option.some({ bytes: hit.bytes, sha256: hit.sha256 })
        }
        const readAt = Date.now()
        const found = yield* PartIntegrity.digest(key)
        if (Option.isSome(found) && found.value.bytes === at.bytes && Number(stat.value.mtimeMs) < readAt - SETTLED_MS)
          seen[key] = { ...at, sha256: found.value.sha256 }
        return found
      })
    const runs = (yield* Effect.flatMap(RunTable.RunTable, (t) => t.listRuns())).filter((r) => r.status === "COMPLETED")
    const lines: string[] = []
    for (const run of runs) {
      const check = yield* PartIntegrity.verifyParts(run.runId, { digest })
      for (const d of check.damaged)
        lines.push(`warning: ${d.key}: ${d.reason}; rows from it may be wrong (phs verify ${run.runId} checks, phs resume ${run.runId} rebuilds it)`)
    }
    // the parts checked now, and only they: a removed part leaves the cache with it
    const same = Object.keys(seen).length === Object.keys(cached).length && Object.entries(seen).every(([k, e]) => cached[k] === e)
    if (!same) yield* writeCache(cacheFile, seen)
    return lines
  })
