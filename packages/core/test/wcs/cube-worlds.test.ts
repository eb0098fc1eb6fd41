/**
 * A run's cube world is read once per run and cube, not once per chunk: the header is read
 * again only for another run, a run made again over a replaced cube, or a run the memo let
 * go (it is bounded); a failure is not remembered.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer, Option } from "effect"
import * as BlobStore from "../../src/BlobStore.js"
import { writeCube } from "../../src/FitsWriter.js"
import * as RunTable from "../../src/RunTable.js"
import * as CubeWorlds from "../../src/wcs/CubeWorlds.js"
import { type CubeWorld, cubeWorld, worldPoint } from "../../src/wcs/WorldColumns.js"

/** Reads of each blob's bytes (`getRange`: what reading a cube header does). */
const reads = new Map<string, number>()
const countedStore = Layer.effect(
  BlobStore.BlobStore,
  Effect.map(BlobStore.BlobStore, (store): BlobStore.BlobStore => ({
    ...store,
    getRange: (key, offset, length) => {
      reads.set(key, (reads.get(key) ?? 0) + 1)
      return store.getRange(key, offset, length)
    }
  }))
).pipe(Layer.provide(BlobStore.layerMemory))
const services = (memo: Layer.Layer<CubeWorlds.CubeWorlds> = CubeWorlds.layer()) => Layer.mergeAll(countedStore, RunTable.layerMemory, memo)

/** A 2 × 2 × 8 galactic cube whose reference longitude is `lon`. */
const cube = (lon: number) =>
  writeCube({
    nx: 2, ny: 2, nchan: 8, data: new Float32Array(32),
    cards: { CTYPE1: "GLON-CAR", CTYPE2: "GLAT-CAR", CRVAL1: lon, CRVAL2: 0, CRPIX1: 1, CRPIX2: 1, CDELT1: -0.01, CDELT2: 0.01 }
  })

/** Puts the cube at `key` and records a run of it, as the split does (its identity from `stat`). */
const makeRun = (runId: string, key: string, lon: number, createdAt = 0) =>
  Effect.gen(function* () {
    const store = yield* BlobStore.BlobStore
    yield* store.put(key, cube(lon))
    const stat = Option.getOrThrow(yield* store.stat(key))
    const run: RunTable.RunRecord = {
      runId, survey: "s", cubeKey: key, createdAt, updatedAt: createdAt, params: {}, codeVersion: "v", nx: 2, ny: 2, nChannels: 8,
      chunkSize: 4, nSpectra: 4, jobsTotal: 1, jobsCompleted: 0, jobsFailed: 0, spectraDone: 0, spectraDeferred: 0, slowPending: 0,
      status: "RUNNING", reason: null, cubeEtag: stat.etag, cubeSize: stat.size
    }
    yield* Effect.flatMap(RunTable.RunTable, (t) => t.createRun(run, []))
  })

const lonOf = (world: CubeWorld) => worldPoint(world).moveTo(0, 0)?.lon

/** The run's world, checked to be that of the cube at `key` whose reference longitude is `lon`. */
const expectWorld = (runId: string, key: string, lon: number) =>
  Effect.map(cubeWorld(runId), (world) => {
    expect(world.cube).toBe(key)
    expect(lonOf(world)).toBeCloseTo(lon, 9)
    return world
  })

describe("cubeWorld", () => {
  it.effect("reads a run's cube header once, however many chunks ask for its world", () =>
    Effect.gen(function* () {
      reads.clear()
      yield* makeRun("r1", "cubes/a.fits", 30)
      const first = yield* expectWorld("r1", "cubes/a.fits", 30)
      const once = reads.get("cubes/a.fits") ?? 0
      expect(once).toBeGreaterThan(0)
      const again = yield* Effect.forEach([1, 2, 3, 4, 5], () => cubeWorld("r1"))
      expect(reads.get("cubes/a.fits")).toBe(once)
      expect(again.every((w) => w === first)).toBe(true)
    }).pipe(Effect.provide(services())))

  it.effect("another run of another cube gets that cube's world", () =>
    Effect.gen(function* () {
      yield* makeRun("r1", "cubes/a.fits", 30)
      yield* makeRun("r2", "cubes/b.fits", 40)
      yield* expectWorld("r1", "cubes/a.fits", 30)
      yield* expectWorld("r2", "cubes/b.fits", 40)
    }).pipe(Effect.provide(services())))

  it.effect("a run removed and made again over a replaced cube reads the new header", () =>
    Effect.gen(function* () {
      yield* makeRun("r1", "cubes/a.fits", 30)
      yield* expectWorld("r1", "cubes/a.fits", 30)
      yield* Effect.flatMap(RunTable.RunTable, (t) => t.deleteRun("r1"))
      yield* makeRun("r1", "cubes/a.fits", 50, 1)
      yield* expectWorld("r1", "cubes/a.fits", 50)
    }).pipe(Effect.provide(services())))

  it.effect("a run not in the table is RunNotFound, and is not remembered as such", () =>
    Effect.gen(function* () {
      const missing = yield* Effect.either(cubeWorld("later"))
      expect(Either.isLeft(missing) && missing.left._tag).toBe("RunNotFound")
      yield* makeRun("later", "cubes/l.fits", 12)
      yield* expectWorld("later", "cubes/l.fits", 12)
    }).pipe(Effect.provide(services())))

  it.effect("keeps at most its capacity of runs, letting the least recently used go first", () =>
    Effect.gen(function* () {
      reads.clear()
      for (const [i, id] of ["p", "q", "r"].entries()) yield* makeRun(id, `cubes/${id}.fits`, 10 + i)
      yield* cubeWorld("p")
      yield* cubeWorld("q")
      yield* cubeWorld("p") // q is now the least recently used
      yield* cubeWorld("r") // lets q go
      const memo = yield* CubeWorlds.CubeWorlds
      expect(memo.size()).toBe(2)
      const before = new Map(reads)
      yield* cubeWorld("p")
      yield* cubeWorld("r")
      expect(reads).toEqual(before)
      yield* cubeWorld("q")
      expect(reads.get("cubes/q.fits")).toBeGreaterThan(before.get("cubes/q.fits")!)
    }).pipe(Effect.provide(services(CubeWorlds.layer(2)))))

  it.effect("without a layer, the process's memo is used", () =>
    Effect.gen(function* () {
      reads.clear()
      yield* makeRun("default-memo-run", "cubes/d.fits", 20)
      yield* cubeWorld("default-memo-run")
      const once = reads.get("cubes/d.fits")
      yield* cubeWorld("default-memo-run")
      expect(reads.get("cubes/d.fits")).toBe(once)
    }).pipe(Effect.provide(Layer.merge(countedStore, RunTable.layerMemory))))
})

describe("CubeWorlds.makeMemo", () => {
  const run = (runId: string) => ({ runId, createdAt: 0, cubeKey: "k" }) as RunTable.RunRecord
  const world: CubeWorld = { cube: "k", wcs: { naxis: 3 } as CubeWorld["wcs"] }

  it.effect("does not keep a failed load", () =>
    Effect.gen(function* () {
      const memo = CubeWorlds.makeMemo(4)
      let loads = 0
      const failing = Effect.suspend(() => (++loads, Effect.fail("unreadable" as const)))
      expect(yield* Effect.flip(memo.get(run("x"), failing))).toBe("unreadable")
      expect(memo.size()).toBe(0)
      expect(yield* memo.get(run("x"), Effect.sync(() => (++loads, world)))).toBe(world)
      expect(yield* memo.get(run("x"), failing)).toBe(world)
      expect(loads).toBe(2)
    }))

  it("refuses a capacity below 1", () => {
    expect(() => CubeWorlds.makeMemo(0)).toThrow(/at least 1/)
  })
})
