import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { BlobStore, layerMemory } from "../src/BlobStore.js"
import { DecodedFiles, haloRows, makeDecodedFiles, resultKeyOf } from "../src/pipeline/FanOut.js"
import * as ResultParquet from "../src/ResultParquet.js"
import type { DecompositionRow } from "../src/ResultSchema.js"
import * as RowBatch from "../src/RowBatch.js"
import type { StageTask } from "../src/stages/Tasks.js"

// a 5×4 map in chunks of one map row each
const NX = 5
const NY = 4
const rowAt = (p: number, version: number): DecompositionRow => ({
  x: p % NX, y: Math.floor(p / NX), beta: 3.8, rms: 0.1 * p, min_persistence: null, n_components: 1,
  component_amplitudes: [p + version], component_means: [50 + p], component_stddevs: [3],
  nan_channels: 0, residual_rms: 0.1, chi2_reduced: 1 + version, aicc: -p,
  component_amplitude_errors: [0.1], component_mean_errors: [0.2], component_stddev_errors: [0.3],
  run_id: "r", cube: "c.fits", lon: null, lat: null,
  component_velocities: null, component_velocity_dispersions: null, component_integrated_intensities: null, refit: null
})
const chunkRows = (start: number, version = 0) => Array.from({ length: NX }, (_, i) => rowAt(start + i, version))
// haloRows reads only the grid, the chunk and where the previous stage's rows are
const task = (start: number) => ({ runId: "r", start, count: NX, nx: NX, ny: NY, chunkSize: NX, after: "fit" }) as StageTask

const writeChunk = (start: number, version = 0) =>
  Effect.flatMap(BlobStore, (store) => store.put(resultKeyOf("r", "fit", start), ResultParquet.encodeRows(chunkRows(start, version))))

describe("DecodedFiles", () => {
  const batch = RowBatch.fromRows(chunkRows(0))
  const bytes = (n: number) => new Uint8Array([1, 2, n])

  it("answers only for the bytes it decoded", () => {
    const files = makeDecodedFiles(4)
    files.keep("a", bytes(1), batch)
    expect(files.find("a", bytes(1))).toBe(batch)
    expect(files.find("a", bytes(2))).toBeUndefined()
    expect(files.find("b", bytes(1))).toBeUndefined()
  })

  it("keeps at most its capacity, dropping the least recently used", () => {
    const files = makeDecodedFiles(2)
    files.keep("a", bytes(1), batch)
    files.keep("b", bytes(1), batch)
    expect(files.find("a", bytes(1))).toBe(batch)
    files.keep("c", bytes(1), batch)
    expect(files.find("b", bytes(1))).toBeUndefined()
    expect(files.find("a", bytes(1))).toBe(batch)
    expect(files.find("c", bytes(1))).toBe(batch)
  })
})

describe("haloRows", () => {
  const expected = (version: number) => [...chunkRows(0), ...chunkRows(10, version)]

  it.effect("gives the neighbours' rows, the same with decoded files kept, and never stale ones", () =>
    Effect.gen(function* () {
      for (const start of [0, 5, 10, 15]) yield* writeChunk(start)
      const plain = yield* haloRows(task(5), 1)
      expect(plain).toStrictEqual(expected(0))
      const kept = Layer.succeed(DecodedFiles, makeDecodedFiles(2))
      yield* Effect.gen(function* () {
        const first = yield* haloRows(task(5), 1)
        expect(first).toStrictEqual(expected(0))
        // a caller's changes to its rows are its own
        first[0].component_amplitudes.length = 0
        ;(first[1] as { aicc: number | null }).aicc = 99
        expect(yield* haloRows(task(5), 1)).toStrictEqual(expected(0))
        // the file written again: its new rows, not the kept ones
        yield* writeChunk(10, 1)
        expect(yield* haloRows(task(5), 1)).toStrictEqual(expected(1))
        // the chunk at 15 reads 10 (kept) and nothing else: row 3 is the last
        expect(yield* haloRows(task(15), 1)).toStrictEqual(chunkRows(10, 1))
      }).pipe(Effect.provide(kept))
    }).pipe(Effect.provide(layerMemory))
  )
})
