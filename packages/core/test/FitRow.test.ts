import { describe, expect, it } from "@effect/vitest"
import * as Native from "@phs/fit-native"
import { Effect, Schema } from "effect"
import * as ResultParquet from "../src/ResultParquet.js"
import { DecompositionRow } from "../src/ResultSchema.js"
import { chunkBatch, encodeChunk } from "../src/stages/Fit.js"
import type { FitTask } from "../src/stages/Tasks.js"
import * as Wcs from "../src/wcs/Wcs.js"
import { type CubeWorld, worldColumns } from "../src/wcs/WorldColumns.js"

const task: FitTask = {
  runId: "run-q",
  survey: "s",
  start: 10,
  count: 3,
  nx: 4,
  nChannels: 300,
  params: { beta: 3.5, snr_min: 1.5, mf_snr_min: 5, f_sep: 1.2, neg_thresh: 5, max_refine_iter: 3, timeout_ms: 0 },
  payloadKey: "p",
  outputKey: "o"
}

/** A cube whose header has no WCS: the world columns are null, the quality columns are what is tested. */
const world: CubeWorld = { cube: "cubes/q.fits", wcs: Wcs.fromCards({ NAXIS: 3, NAXIS1: 4, NAXIS2: 1, NAXIS3: 300 }) }

/** Two lines in noise, written in reverse order of their centres. */
const spectrum = Float64Array.from({ length: 300 }, (_, i) => {
  const noise = 0.1 * Math.sin(i * 12.9898) * Math.cos(i * 78.233)
  return 1.5 * Math.exp(-((i - 210) ** 2) / 50) + 3 * Math.exp(-((i - 90) ** 2) / 32) + noise
})

/** The rows `chunkBatch` makes, read back from the bytes it encodes to. */
const rowsOf = (chunk: FitTask, results: ReadonlyArray<Native.Decomposition>, w: CubeWorld, offsets?: ReadonlyArray<number>) =>
  ResultParquet.decodeRows(ResultParquet.encodeBatch(chunkBatch(chunk, results, w, offsets)))

describe("chunkBatch: fit quality columns", () => {
  it.effect("carries the decomposer's quality and errors, errors in the order of the component lists", () =>
    Effect.gen(function*() {
      const d = Native.decompose(spectrum)
      expect(d.components.length).toBeGreaterThanOrEqual(2)
      const [row] = yield* rowsOf(task, [d], world, [1])
      // offset 1 of a chunk starting at pixel 10 of a 4-wide cube: pixel 11
      expect(row).toMatchObject({ x: 3, y: 2, beta: 3.5, run_id: "run-q", cube: "cubes/q.fits", refit: null })
      expect(row).toMatchObject({ residual_rms: d.residualRms, chi2_reduced: d.chi2Reduced, aicc: d.aicc, nan_channels: 0 })
      expect(row.residual_rms).toBeGreaterThan(0)
      expect(row.n_components).toBe(d.components.length)
      expect(row.component_amplitudes).toEqual(d.components.map((c) => c.amplitude))
      expect(row.component_means).toEqual(d.components.map((c) => c.mean))
      expect(row.component_stddevs).toEqual(d.components.map((c) => c.stddev))
      expect(row.component_amplitude_errors).toEqual(d.componentErrors.map((e) => e.amplitude))
      expect(row.component_mean_errors).toEqual(d.componentErrors.map((e) => e.mean))
      expect(row.component_stddev_errors).toEqual(d.componentErrors.map((e) => e.stddev))
      expect(Schema.is(DecompositionRow)(row)).toBe(true)
    }))

  it.effect("leaves quality null and the error lists empty for a deferred and a blank spectrum", () =>
    Effect.gen(function*() {
      const d = Native.decompose(spectrum)
      const blankFit = Native.decompose(new Float64Array(300).fill(Number.NaN))
      const [deferred, blank] = yield* rowsOf(task, [{ ...d, status: "timeout", components: [] }, blankFit], world, [0, 2])
      expect(deferred).toMatchObject({ n_components: -1, residual_rms: null, chi2_reduced: null, aicc: null, component_means: [] })
      expect(deferred.rms).toBe(d.rms)
      expect([deferred.component_amplitude_errors, deferred.component_mean_errors, deferred.component_stddev_errors]).toEqual([[], [], []])
      expect(blank).toMatchObject({ x: 0, y: 3, rms: null, residual_rms: null, chi2_reduced: null, aicc: null, component_mean_errors: [], nan_channels: 300 })
    }))

  it("refuses offsets that are not one per result", () => {
    expect(() => chunkBatch(task, [Native.decompose(spectrum)], world, [0, 1])).toThrow(/1 results for 2 offsets/)
  })
})

describe("chunkBatch: a chunk's rows as columns", () => {
  const wcsCards = {
    NAXIS: 3, NAXIS1: 4, NAXIS2: 3, NAXIS3: 300,
    CTYPE1: "GLON-CAR", CTYPE2: "GLAT-CAR", CRVAL1: 30.5, CRVAL2: -0.4, CRPIX1: 2.5, CRPIX2: -1.5,
    CDELT1: -0.02, CDELT2: 0.025, PC1_1: 0.9, PC1_2: -0.3, PC2_1: 0.25, PC2_2: 0.95,
    CTYPE3: "VRAD", CRVAL3: 5000, CRPIX3: 7, CDELT3: 250, CUNIT3: "m/s"
  }
  const worlds: Record<string, CubeWorld> = {
    "no WCS": world,
    "celestial and spectral": { cube: "cubes/w.fits", wcs: Wcs.fromCards(wcsCards) },
    "celestial only": { cube: "cubes/c.fits", wcs: Wcs.fromCards({ ...wcsCards, CTYPE3: "WAVX", CUNIT3: "" }) },
    "spectral only": { cube: "cubes/s.fits", wcs: Wcs.fromCards({ ...wcsCards, CTYPE1: "", CTYPE2: "" }) }
  }
  /** Spectra with 0 to 3 lines at varied places, a blank one and one with a few NaN channels. */
  const spectra = (count: number) => {
    const out = new Float32Array(count * 300)
    for (let s = 0; s < count; s++) {
      for (let i = 0; i < 300; i++) {
        let v = 0.1 * Math.sin((i + 7 * s) * 12.9898) * Math.cos((i + s) * 78.233)
        for (let k = 0; k < s % 4; k++) v += (1 + k) * Math.exp(-((i - 60 - 70 * k - 3 * s) ** 2) / (20 + 10 * k))
        out[s * 300 + i] = v
      }
    }
    out.fill(Number.NaN, 3 * 300, 4 * 300)
    out.fill(Number.NaN, 5 * 300 + 10, 5 * 300 + 20)
    return out
  }

  it.effect("gives every row its pixel, its fit and the world columns of its cube, deferred and blank spectra included, whatever the WCS", () =>
    Effect.gen(function*() {
      const count = 11
      const fitted = yield* Effect.promise(() => Native.decomposeBatch(spectra(count), 300, {}, { threads: 1, timeoutMs: 0 }))
      // every third spectrum deferred, as the fit's budget leaves it (components dropped)
      const results = fitted.map((d, i) => (i % 3 === 2 ? { ...d, status: "timeout" as const, components: [], componentErrors: [] } : d))
      expect(results.some((d) => d.status === "blank")).toBe(true)
      expect(results.filter((d) => d.status === "ok").map((d) => d.components.length)).toContain(3)
      const chunk = { ...task, start: 5, count }
      for (const [name, w] of Object.entries(worlds)) {
        const rows = yield* rowsOf(chunk, results, w)
        expect(rows.length, name).toBe(count)
        rows.forEach((row, i) => {
          const d = results[i]
          const x = (5 + i) % 4
          const y = Math.floor((5 + i) / 4)
          expect({ x: row.x, y: row.y }, name).toEqual({ x, y })
          expect(row.n_components, name).toBe(d.status === "timeout" ? -1 : d.components.length)
          expect(row.component_means, name).toEqual(d.status === "timeout" ? [] : d.components.map((c) => c.mean))
          expect(row.nan_channels, name).toBe(d.nanChannels)
          const { cube, lon, lat, component_velocities, component_velocity_dispersions, component_integrated_intensities } = row
          expect({ cube, lon, lat, component_velocities, component_velocity_dispersions, component_integrated_intensities }, name).toEqual(
            worldColumns(w, x, y, d.status === "timeout" ? [] : d.components)
          )
        })
      }
      const lonOf = (w: CubeWorld) => Effect.map(rowsOf(chunk, results, w), (rows) => rows.map((r) => r.lon))
      expect((yield* lonOf(worlds["celestial only"])).every((lon) => lon !== null)).toBe(true)
      expect((yield* lonOf(worlds["spectral only"])).every((lon) => lon === null)).toBe(true)
      const celestial = yield* rowsOf(chunk, results, worlds["celestial only"])
      expect(celestial.every((r) => r.component_velocities === null)).toBe(true)
      const full = yield* rowsOf(chunk, results, worlds["celestial and spectral"])
      expect(full.filter((r) => r.n_components > 0).every((r) => r.component_velocities!.length === r.n_components)).toBe(true)
    }))

  it.effect("rows of results picked at chunk offsets are the whole chunk's rows at those offsets", () =>
    Effect.gen(function*() {
      const count = 9
      const results = yield* Effect.promise(() => Native.decomposeBatch(spectra(count), 300, {}, { threads: 1, timeoutMs: 0 }))
      const chunk = { ...task, start: 3, count }
      const w = worlds["celestial and spectral"]
      const whole = yield* rowsOf(chunk, results, w)
      const offsets = [7, 0, 4]
      expect(yield* rowsOf(chunk, offsets.map((o) => results[o]), w, offsets)).toEqual(offsets.map((o) => whole[o]))
    }))

  it("encodes an empty chunk as encodeRows does", () => {
    const bytes = ResultParquet.encodeBatch(chunkBatch({ ...task, count: 0 }, [], worlds["celestial and spectral"]))
    expect(Buffer.from(bytes).equals(Buffer.from(ResultParquet.encodeRows([])))).toBe(true)
  })

  it("encodeChunk is the file of the chunk's batch", () => {
    const results = [Native.decompose(spectrum), Native.decompose(new Float64Array(300).fill(Number.NaN))]
    const chunk = { ...task, count: 2 }
    const w = worlds["celestial and spectral"]
    expect(Buffer.from(encodeChunk(chunk, results, w)).equals(Buffer.from(ResultParquet.encodeBatch(chunkBatch(chunk, results, w))))).toBe(true)
  })
})
