/**
 * The world columns of a run, end to end on memory services: lon/lat and component
 * velocities of every row against astropy (WCSLIB) evaluated at the row's pixel and
 * component centre, σ_v and the integrated intensity from astropy's velocity step, the
 * frame in `_stage_config.json`; slow-fit rows get them too; a cube whose WCS is malformed
 * still completes, with null world columns and the reason recorded.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { cubeData } from "../../../../test/support/cubes.js"
import * as BlobStore from "../../src/BlobStore.js"
import * as Catalog from "../../src/Catalog.js"
import * as Fitter from "../../src/Fitter.js"
import { writeCube } from "../../src/FitsWriter.js"
import * as Journal from "../../src/Journal.js"
import * as Pipeline from "../../src/Pipeline.js"
import * as ResultParquet from "../../src/ResultParquet.js"
import type { DecompositionRow } from "../../src/ResultSchema.js"
import * as RunTable from "../../src/RunTable.js"
import * as WorkQueue from "../../src/WorkQueue.js"
import { type HeaderValue, type OracleCase, runOracle, unavailableReason } from "./oracle.js"

const memory = Layer.mergeAll(BlobStore.layerMemory, WorkQueue.layerMemory, RunTable.layerMemory, Journal.layerMemory, Catalog.layerMemory)

/** The native fitter, except that under a budget every other spectrum is deferred to the slow fit. */
const deferEveryOther = Layer.sync(Fitter.Fitter, () => {
  const native = Fitter.makeNative({ threads: 1 })
  return {
    version: native.version,
    decomposeBatch: (spectra, n, params, options) =>
      Effect.map(native.decomposeBatch(spectra, n, params, options), (results) =>
        options.timeoutMs > 0 ? results.map((d, i) => (i % 2 === 0 ? { ...d, status: "timeout" as const, components: [] } : d)) : results
      )
  }
})

const GRS = fileURLToPath(new URL("../../../../examples/grs-5x5.fits", import.meta.url))

const runCube = (bytes: Uint8Array, key: string) =>
  Effect.gen(function* () {
    const store = yield* BlobStore.BlobStore
    yield* store.put(key, bytes)
    const input = yield* Pipeline.prepare({ cube_key: key, survey: "wcs", chunk_size: 7, params: { beta: 3.5 } })
    yield* Pipeline.start(Pipeline.standard, input)
    const run = yield* Pipeline.drive(Pipeline.standard, input.runId, { pollMs: 5 })
    const rows: DecompositionRow[] = []
    for (const part of yield* store.list("decompositions/survey=wcs/")) rows.push(...(yield* ResultParquet.decodeRows(yield* store.get(part))))
    const config = JSON.parse(new TextDecoder().decode(yield* store.get(`runs/${run.runId}/_stage_config.json`)))
    return { run, rows, config }
  })

/** Every row against the oracle: (lon, lat) at the pixel, velocity and step at each centre. */
const checkAgainstOracle = (rows: ReadonlyArray<DecompositionRow>, oracle: (pixels: number[][]) => OracleCase, crpix3: number) => {
  const pixels: number[][] = []
  for (const r of rows) {
    pixels.push([r.x + 1, r.y + 1, crpix3])
    for (const m of r.component_means) pixels.push([r.x + 1, r.y + 1, m + 1], [r.x + 1, r.y + 1, m + 0.5], [r.x + 1, r.y + 1, m + 1.5])
  }
  const [result] = runOracle([oracle(pixels)])
  if (result.error !== undefined) throw new Error(result.error)
  const kms = (w: ReadonlyArray<number | null>) => (w[2] ?? Number.NaN) / 1000
  let k = 0
  let components = 0
  for (const r of rows) {
    const sky = result.world[k++]
    expect(Math.abs(((r.lon! - sky[0]! + 540) % 360) - 180)).toBeLessThanOrEqual(1e-9)
    expect(Math.abs(r.lat! - sky[1]!)).toBeLessThanOrEqual(1e-9)
    expect(r.component_velocities).toHaveLength(r.n_components)
    r.component_means.forEach((_, i) => {
      const [at, lo, hi] = [result.world[k++], result.world[k++], result.world[k++]]
      const sigmaV = r.component_stddevs[i] * Math.abs(kms(hi) - kms(lo))
      expect(Math.abs(r.component_velocities![i] - kms(at))).toBeLessThanOrEqual(1e-6)
      expect(Math.abs(r.component_velocity_dispersions![i] - sigmaV)).toBeLessThanOrEqual(1e-6)
      expect(Math.abs(r.component_integrated_intensities![i] - r.component_amplitudes[i] * sigmaV * Math.sqrt(2 * Math.PI))).toBeLessThanOrEqual(1e-6)
      components++
    })
  }
  return components
}

const missing = unavailableReason()

describe("world columns", () => {
  it.live.skipIf(missing !== undefined && process.env.CI !== "true")("the GRS sample's rows carry astropy's (l, b) and velocities, and the frame is recorded", () =>
    Effect.gen(function* () {
      const { run, rows, config } = yield* runCube(new Uint8Array(readFileSync(GRS)), "cubes/grs.fits")
      expect(run.status).toBe("COMPLETED")
      expect(rows).toHaveLength(25)
      expect(new Set(rows.map((r) => r.cube))).toEqual(new Set(["cubes/grs.fits"]))
      const components = checkAgainstOracle(rows, (pixels) => ({ file: GRS, pixels }), 212.5368652344)
      expect(components).toBeGreaterThan(25)
      expect(config.wcs).toEqual({
        celestial: { frame: "galactic", equinox: null, projection: "CAR", ctype: ["GLON-CAR", "GLAT-CAR"] },
        spectral: { ctype: "VOPT", convention: "optical", specsys: "LSRK", restFrequency: null },
        problems: []
      })
    }).pipe(Effect.provide(Layer.merge(memory, Fitter.layerNative({ threads: 2 })))))

  const FREQ_CARDS: Record<string, HeaderValue> = {
    CTYPE1: "RA---TAN", CTYPE2: "DEC--TAN", CRVAL1: 83.8, CRVAL2: -5.4, CRPIX1: 2, CRPIX2: 2, CDELT1: -0.01, CDELT2: 0.01, RADESYS: "ICRS",
    CTYPE3: "FREQ", CRVAL3: 115.27e9, CRPIX3: 48, CDELT3: -250e3, CUNIT3: "Hz", RESTFRQ: 115.2712018e9
  }

  it.live.skipIf(missing !== undefined && process.env.CI !== "true")("a FREQ/TAN cube, with half its spectra refitted by the slow fit, gets radio velocities on every row", () =>
    Effect.gen(function* () {
      const bytes = writeCube({ nx: 4, ny: 3, nchan: 96, data: cubeData({ nx: 4, ny: 3, nchan: 96, seed: 3 }), cards: FREQ_CARDS })
      const { run, rows, config } = yield* runCube(bytes, "cubes/freq.fits")
      expect(run.status).toBe("COMPLETED")
      expect(run.spectraDeferred).toBeGreaterThan(0)
      expect(rows.every((r) => r.n_components >= 1)).toBe(true)
      const header = { NAXIS: 3, NAXIS1: 4, NAXIS2: 3, NAXIS3: 96, ...FREQ_CARDS }
      checkAgainstOracle(rows, (pixels) => ({ header, pixels, sptr: "VRAD" }), 48)
      expect(config.wcs.celestial).toMatchObject({ frame: "ICRS", projection: "TAN" })
      expect(config.wcs.spectral).toMatchObject({ ctype: "FREQ", convention: "radio", restFrequency: 115.2712018e9 })
    }).pipe(Effect.provide(Layer.merge(memory, deferEveryOther))))

  it.live("a cube with an unknown projection and no CDELT3 completes with null world columns, and says why", () =>
    Effect.gen(function* () {
      const cards = { CTYPE1: "GLON-XYZ", CTYPE2: "GLAT-XYZ", CDELT1: -0.01, CDELT2: 0.01, CTYPE3: "VRAD", CRVAL3: 1000 }
      const bytes = writeCube({ nx: 3, ny: 3, nchan: 96, data: cubeData({ nx: 3, ny: 3, nchan: 96, seed: 5 }), cards })
      const { run, rows, config } = yield* runCube(bytes, "cubes/bad.fits")
      expect(run.status).toBe("COMPLETED")
      expect(rows).toHaveLength(9)
      for (const r of rows) {
        expect([r.lon, r.lat, r.component_velocities, r.component_velocity_dispersions, r.component_integrated_intensities]).toEqual([null, null, null, null, null])
        expect(r.component_means).toHaveLength(r.n_components)
      }
      expect(config.wcs.celestial).toBeNull()
      expect(config.wcs.spectral).toBeNull()
      expect(config.wcs.problems).toEqual([
        "lon/lat are null: projection XYZ (CTYPE1 = 'GLON-XYZ') is not one phs implements (CAR, TAN, SIN, SFL/GLS, AIT, ARC, ZEA)",
        "velocities are null: CDELT3 is missing for the spectral axis CTYPE3 = 'VRAD'"
      ])
    }).pipe(Effect.provide(Layer.merge(memory, Fitter.layerNative({ threads: 2 })))))
})
