import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { parquetMetadata } from "hyparquet"
import { createHash } from "node:crypto"
import * as BlobStore from "../src/BlobStore.js"
import * as ResultParquet from "../src/ResultParquet.js"
import type { DecompositionRow } from "../src/ResultSchema.js"
import { compactParts } from "../src/stages/CatalogStage.js"

const nx = 300
const row = (i: number): DecompositionRow => {
  const k = i % 4
  return {
    x: i % nx,
    y: Math.floor(i / nx),
    beta: 3.5,
    rms: i % 97 === 0 ? null : 0.1 + (i % 13) / 100,
    min_persistence: k === 0 ? null : 0.5,
    n_components: k,
    component_amplitudes: Array.from({ length: k }, (_, j) => 1 + j + (i % 7)),
    component_means: Array.from({ length: k }, (_, j) => 10 + 20 * j),
    component_stddevs: Array.from({ length: k }, (_, j) => 2 + j),
    nan_channels: 0,
    residual_rms: i % 97 === 0 ? null : 0.1,
    chi2_reduced: i % 97 === 0 ? null : 1.02,
    aicc: i % 97 === 0 ? null : -50 - k,
    component_amplitude_errors: Array.from({ length: k }, () => 0.05),
    component_mean_errors: Array.from({ length: k }, (_, j) => 0.1 * (j + 1)),
    component_stddev_errors: Array.from({ length: k }, () => Number.NaN),
    run_id: "r-1",
    cube: "c.fits",
    lon: i % 5 === 0 ? null : 30 + i / 1e4,
    lat: i % 5 === 0 ? null : -0.5,
    component_velocities: i % 5 === 0 ? null : Array.from({ length: k }, (_, j) => 40 + j),
    component_velocity_dispersions: i % 5 === 0 ? null : Array.from({ length: k }, () => 0.5),
    component_integrated_intensities: i % 5 === 0 ? null : Array.from({ length: k }, (_, j) => 1.25 * (1 + j))
  }
}

/** Chunk results of `sizes` rows each, consecutive spectra, in a fresh memory store. */
const withChunks = (sizes: ReadonlyArray<number>) => {
  const store = BlobStore.makeMemory()
  const rows: DecompositionRow[] = []
  const keys: string[] = []
  return Effect.gen(function* () {
    for (const [c, n] of sizes.entries()) {
      const chunk = Array.from({ length: n }, (_, j) => row(rows.length + j))
      rows.push(...chunk)
      keys.push(`chunks/r-1/chunk-${c}.parquet`)
      yield* store.put(keys.at(-1)!, ResultParquet.encodeRows(chunk))
    }
    return { store, rows, keys }
  })
}

describe("CatalogStage.compactParts", () => {
  it.effect("streams chunk results into a part identical to encoding all rows at once, with its record", () =>
    Effect.gen(function* () {
      const { store, rows, keys } = yield* withChunks([5_000, 20_000, 0, 12_000, 900])
      const { files, stats } = yield* compactParts({ runId: "r-1", survey: "s", chunkKeys: keys, nx, ny: Math.ceil(rows.length / nx) }).pipe(
        Effect.provideService(BlobStore.BlobStore, store)
      )
      const whole = ResultParquet.encodeRows(rows)
      const stored = yield* store.get("decompositions/survey=s/r-1-0000.parquet")
      expect(Buffer.from(stored).equals(Buffer.from(whole))).toBe(true)
      expect(files).toEqual([
        { key: "decompositions/survey=s/r-1-0000.parquet", bytes: whole.length, sha256: createHash("sha256").update(whole).digest("hex"), rows: rows.length }
      ])
      const rms = rows.flatMap((r) => (r.rms === null ? [] : [r.rms])).sort((a, b) => a - b)
      expect(stats.rows).toBe(rows.length)
      expect(stats.duplicates).toBe(0)
      expect(stats.blank).toBe(rows.filter((r) => r.rms === null).length)
      expect(stats.rms).toEqual({ min: rms[0], median: rms[Math.floor((rms.length - 1) / 2)], mean: rms.reduce((a, b) => a + b, 0) / rms.length, max: rms.at(-1) })
      expect(stats.componentHistogram).toEqual({ "0": 9_475, "1": 9_475, "2": 9_475, "3": 9_475 })
    }))

  it.effect("counts a chunk given twice as duplicates, and writes only the parts asked for", () =>
    Effect.gen(function* () {
      const { store, keys } = yield* withChunks([400, 300])
      const { files, stats } = yield* compactParts({ runId: "r-1", survey: "s", chunkKeys: [...keys, keys[1]], nx, ny: 3 }, () => false).pipe(
        Effect.provideService(BlobStore.BlobStore, store)
      )
      expect(stats.rows).toBe(1_000)
      expect(stats.duplicates).toBe(300)
      expect(files.map((f) => f.rows)).toEqual([1_000])
      expect(yield* store.size(files[0].key)).toEqual(Option.none())
    }))

  it.effect("the same rows give the same part and figures however they were chunked", () =>
    Effect.gen(function* () {
      const compact = (sizes: ReadonlyArray<number>) =>
        Effect.gen(function* () {
          const { store, rows, keys } = yield* withChunks(sizes)
          const out = yield* compactParts({ runId: "r-1", survey: "s", chunkKeys: keys, nx, ny: Math.ceil(rows.length / nx) }).pipe(Effect.provideService(BlobStore.BlobStore, store))
          return { ...out, bytes: yield* store.get(out.files[0].key) }
        })
      const even = yield* compact(Array.from({ length: 70 }, () => 500))
      const odd = yield* compact([1, 16_383, 2, 333, 9_000, 0, 8_781, 499, 1])
      expect(odd.files).toEqual(even.files)
      expect(odd.stats).toEqual(even.stats)
      expect(Buffer.from(odd.bytes).equals(Buffer.from(even.bytes))).toBe(true)
      // 35,000 rows: two full row groups of 16,384 and the rest
      expect(parquetMetadata(even.bytes).row_groups.map((g) => Number(g.num_rows))).toEqual([16_384, 16_384, 2_232])
    }))

  it.effect("a chunk result with a row outside the row schema fails the compaction, naming the row", () =>
    Effect.gen(function* () {
      const { store, keys } = yield* withChunks([300])
      yield* store.put("chunks/r-1/bad.parquet", ResultParquet.encodeRows([{ ...row(300), n_components: -2 }]))
      const error = yield* Effect.flip(
        compactParts({ runId: "r-1", survey: "s", chunkKeys: [...keys, "chunks/r-1/bad.parquet"], nx, ny: 2 }).pipe(Effect.provideService(BlobStore.BlobStore, store))
      )
      expect(error._tag).toBe("ResultDecodeError")
      expect(error.message).toMatch(/row 0: n_components is -2/)
    }))

  it.effect("zero rows still publish one empty part with the schema", () =>
    Effect.gen(function* () {
      const { store, keys } = yield* withChunks([0])
      const { files } = yield* compactParts({ runId: "r-1", survey: "s", chunkKeys: keys, nx, ny: 1 }).pipe(Effect.provideService(BlobStore.BlobStore, store))
      expect(files.map((f) => f.rows)).toEqual([0])
      expect(yield* ResultParquet.decodeRows(yield* store.get(files[0].key))).toEqual([])
    }))
})
