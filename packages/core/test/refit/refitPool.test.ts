import { describe, expect, it } from "@effect/vitest"
import { DEFAULT_PARAMS } from "@phs/fit-native"
import { BlobStore, Fitter, Keys, Pipeline, RunTable } from "@phs/core"
import { DriverLock, LocalRun, RuntimeLocal } from "@phs/runtime-local"
import { ConfigProvider, Duration, Effect, Exit, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { tempDir } from "../../../../test/support/cli.js"
import { writeCube } from "../../src/FitsWriter.js"
import * as Settings from "../../src/Settings.js"
import { refitChunk, type RefitChunk, RefitPool, refitStages } from "../../src/refit/index.js"
import { CHANNELS, makeField } from "./field.js"

const NX = 12
const NY = 9
const field = makeField(NX, NY, 7, (x, y) => x === 5 && y === 4)
const pipeline = refitStages.reduce(Pipeline.withStage, Pipeline.standard)
const worker = (name: string) => new URL(`./workers/${name}.mjs`, import.meta.url)

/** A cube file of the field (spectrum-major, as the FITS writer takes it). */
const cubeFile = (): string => {
  const data = new Float32Array(NX * NY * CHANNELS)
  field.spectra.forEach((s, p) => data.set(s, p * CHANNELS))
  const file = path.join(tempDir(), "field.fits")
  fs.writeFileSync(file, writeCube({ nx: NX, ny: NY, nchan: CHANNELS, data }))
  return file
}

const runtime = (workdir: string, pool: Layer.Layer<RefitPool.RefitPool> | undefined) => {
  const base = Layer.mergeAll(RuntimeLocal.layer({ workdir }), DriverLock.layer({ workdir }), Fitter.layerNative())
  return pool === undefined ? base : Layer.merge(base, pool)
}

/** The run's published parts, as bytes. */
const publishedBytes = (runId: string) =>
  Effect.gen(function* () {
    const store = yield* BlobStore.BlobStore
    const keys = yield* store.list(Keys.runParts("pool", runId))
    return yield* Effect.forEach([...keys].sort(), (key) => store.get(key))
  })

/** The whole field as one chunk of pass 1 (pixel `outside` moved past the map's edge). */
const wholeField = (outside = false): RefitChunk => {
  const spectra = new Float32Array(NX * NY * CHANNELS)
  field.spectra.forEach((s, p) => spectra.set(s, p * CHANNELS))
  const pixels = field.rows.map((_, p) => (outside && p === 0 ? NX * NY : p))
  return { grid: { nx: NX, ny: NY, nChannels: CHANNELS }, pixels, rows: field.rows, spectra, params: DEFAULT_PARAMS, pass: 1, passes: 4 }
}

describe("RefitPool", () => {
  it.live("publishes the same Parquet bytes inline and on 1 or 2 worker threads", () =>
    Effect.gen(function* () {
      const cube = cubeFile()
      const runs = []
      for (const pool of [undefined, RefitPool.layerOf(1), RefitPool.layerOf(2)]) {
        const workdir = path.join(tempDir(), "w")
        runs.push(
          yield* Effect.gen(function* () {
            // chunks of 10 pixels in rows of 12: every chunk's neighbourhoods cross chunks
            const run = yield* LocalRun.run(pipeline, { cube, survey: "pool", chunkSize: 10 }, { pollMs: 10, concurrency: 3 })
            expect(run.status).toBe("COMPLETED")
            return { runId: run.runId, parts: yield* publishedBytes(run.runId) }
          }).pipe(Effect.provide(runtime(workdir, pool)))
        )
      }
      const [inline, one, two] = runs
      expect(inline.parts.length).toBeGreaterThan(0)
      expect(one).toStrictEqual(inline)
      expect(two).toStrictEqual(inline)
    }))

  it.effect("refits a chunk on a worker exactly as inline", () =>
    Effect.gen(function* () {
      const pool = yield* RefitPool.RefitPool
      const rows = yield* pool.refit(wholeField())
      const inline = refitChunk(wholeField())
      expect(rows).toStrictEqual(inline)
      // the refit changed something: the comparison is not vacuous
      expect(inline.some((r) => r.refit !== null)).toBe(true)
    }).pipe(Effect.provide(RefitPool.layerOf(1))))

  it.effect("a worker's RefitInputError stays a typed error, and the worker serves the next chunk", () =>
    Effect.gen(function* () {
      const pool = yield* RefitPool.RefitPool
      const error = yield* Effect.flip(pool.refit(wholeField(true)))
      expect(error._tag).toBe("RefitInputError")
      expect(error.message).toBe(Effect.runSync(Effect.flip(Effect.try({ try: () => refitChunk(wholeField(true)), catch: (e) => e as Error }))).message)
      expect(yield* pool.refit(wholeField())).toHaveLength(NX * NY)
    }).pipe(Effect.provide(RefitPool.layerOf(1))))

  it.effect("a chunk that makes the worker throw fails with a retryable RefitWorkerError; a fresh worker takes the next", () =>
    Effect.gen(function* () {
      const pool = yield* RefitPool.RefitPool
      const broken = { ...wholeField(), params: null } as unknown as RefitChunk
      const error = yield* Effect.flip(pool.refit(broken))
      expect(error._tag).toBe("RefitWorkerError")
      expect(error.message).toMatch(/^refit worker: TypeError/)
      expect((error as RefitPool.RefitWorkerError).retryable).toBe(true)
      expect(yield* pool.refit(wholeField())).toHaveLength(NX * NY)
    }).pipe(Effect.provide(RefitPool.layerOf(1))))

  it.effect("a worker that exits fails its chunk at once, not a hang", () =>
    Effect.gen(function* () {
      const pool = yield* RefitPool.RefitPool
      for (let i = 0; i < 2; i++) {
        const error = yield* Effect.flip(pool.refit(wholeField()))
        expect(error.message).toBe("refit worker: exited with code 3")
      }
    }).pipe(Effect.provide(RefitPool.layerOf(1, worker("exits")))))

  it.live("an interrupted refit ends its busy worker and frees its slot", () =>
    Effect.gen(function* () {
      const pool = yield* RefitPool.RefitPool
      for (let i = 0; i < 2; i++) {
        const exit = yield* Effect.exit(Effect.timeout(pool.refit(wholeField()), Duration.millis(300)))
        expect(Exit.isFailure(exit) && String(exit.cause)).toMatch(/TimeoutException/)
      }
    }).pipe(Effect.provide(RefitPool.layerOf(1, worker("silent")))))

  it.live("a run whose refit worker keeps dying fails with the reason after its redeliveries", () =>
    Effect.gen(function* () {
      const run = yield* LocalRun.run(pipeline, { cube: cubeFile(), survey: "pool", chunkSize: 54 }, { pollMs: 10, concurrency: 2 })
      expect(run.status).toBe("FAILED")
      expect(run.reason).toContain("refit worker: exited with code 3")
      const chunks = yield* Effect.flatMap(RunTable.RunTable, (t) => t.stageProgress(run.runId))
      expect(chunks.refit ?? 0).toBe(0)
    }).pipe(Effect.provide(runtime(path.join(tempDir(), "w"), RefitPool.layerOf(2, worker("exits"))))), 60_000)

  it.effect("takes its size from PHS_REFIT_WORKERS, every core by default; a bad value is one line", () =>
    Effect.gen(function* () {
      const sized = (env: Record<string, string>) =>
        Effect.withConfigProvider(Effect.map(RefitPool.RefitPool, (p) => p.size).pipe(Effect.provide(RefitPool.layer)), ConfigProvider.fromJson(env))
      expect(yield* sized({})).toBe(os.availableParallelism())
      expect(yield* sized({ PHS_REFIT_WORKERS: "3" })).toBe(3)
      const bad = yield* Effect.flip(sized({ PHS_REFIT_WORKERS: "0" }))
      expect(bad.message).toBe('bad environment: PHS_REFIT_WORKERS must be a positive integer, got "0"')
      const both = yield* Effect.flip(Effect.withConfigProvider(Settings.load(RefitPool.config), ConfigProvider.fromJson({ PHS_REFIT_WORKERS: "x" })))
      expect(both._tag).toBe("InvalidInput")
    }))

  it("refuses a pool of no workers", () => {
    expect(() => Effect.runSync(Effect.scoped(RefitPool.make(0)))).toThrow(/positive integer/)
  })
})
