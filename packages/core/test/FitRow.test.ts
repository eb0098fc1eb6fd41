import { describe, expect, it } from "@effect/vitest"
import * as Native from "@phs/fit-native"
import { Effect, Schema } from "effect"
import * as ResultParquet from "../src/ResultParquet.js"
import { DecompositionRow } from "../src/ResultSchema.js"
import { chunkBatch, toRow } from "../src/stages/Fit.js"
import type { FitTask } from "../src/stages/Tasks.js"
import * as Wcs from "../src/wcs/Wcs.js"
import type { CubeWorld } from "../src/wcs/WorldColumns.js"

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

describe("toRow: fit quality columns", () => {
  it.effect("carries the decomposer's quality and errors, errors in the order of the component lists", () =>
    Effect.gen(function*() {
      const d = Native.decompose(spectrum)
      expect(d.components.length).toBeGreaterThanOrEqual(2)
      const row = toRow(task, 1, d, world)
      expect(row).toMatchObject({ residual_rms: d.residualRms, chi2_reduced: d.chi2Reduced, aicc: d.aicc })
      expect(row.residual_rms).toBeGreaterThan(0)
      expect(row.component_means).toEqual(d.components.map((c) => c.mean))
      expect(row.component_amplitude_errors).toEqual(d.componentErrors.map((e) => e.amplitude))
      expect(row.component_mean_errors).toEqual(d.componentErrors.map((e) => e.mean))
      expect(row.component_stddev_errors).toEqual(d.componentErrors.map((e) => e.stddev))
      expect(Schema.is(DecompositionRow)(row)).toBe(true)
      const [back] = yield* ResultParquet.decodeRows(ResultParquet.encodeRows([row]))
      // A plain fit row carries no refit flag: it reads back as null.
      expect(back).toEqual({ ...row, refit: null })
    }))

  it("leaves quality null and the error lists empty for a deferred and a blank spectrum", () => {
    const d = Native.decompose(spectrum)
    const deferred = toRow(task, 0, { ...d, status: "timeout", components: [] }, world)
    expect(deferred).toMatchObject({ n_components: -1, residual_rms: null, chi2_reduced: null, aicc: null })
    expect([deferred.component_amplitude_errors, deferred.component_mean_errors, deferred.component_stddev_errors]).toEqual([[], [], []])
    const blank = toRow(task, 2, Native.decompose(new Float64Array(300).fill(Number.NaN)), world)
    expect(blank).toMatchObject({ rms: null, residual_rms: null, chi2_reduced: null, aicc: null, component_mean_errors: [] })
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

  it.effect("encodes to the bytes of the rows toRow makes, deferred and blank spectra included, whatever the WCS", () =>
    Effect.gen(function*() {
      const count = 11
      const fitted = yield* Effect.promise(() => Native.decomposeBatch(spectra(count), 300, {}, { threads: 1, timeoutMs: 0 }))
      // every third spectrum deferred, as the fit's budget leaves it (components dropped)
      const results = fitted.map((d, i) => (i % 3 === 2 ? { ...d, status: "timeout" as const, components: [], componentErrors: [] } : d))
      expect(results.some((d) => d.status === "blank")).toBe(true)
      expect(results.filter((d) => d.status === "ok").map((d) => d.components.length)).toContain(3)
      const chunk = { ...task, start: 5, count }
      for (const [name, w] of Object.entries(worlds)) {
        const rows = results.map((d, i) => toRow(chunk, i, d, w))
        const bytes = ResultParquet.encodeBatch(chunkBatch(chunk, results, w))
        expect(Buffer.from(bytes).equals(Buffer.from(ResultParquet.encodeRows(rows))), name).toBe(true)
        expect(yield* ResultParquet.decodeRows(bytes)).toEqual(rows.map((r) => ({ ...r, refit: null })))
      }
      expect(rowsWithLon(results, chunk, worlds["celestial only"])).toBe(count)
      expect(toRow(chunk, 0, results[0], worlds["celestial only"]).component_velocities).toBeNull()
      expect(toRow(chunk, 1, results[1], worlds["spectral only"]).lon).toBeNull()
    }))

  it("encodes an empty chunk as encodeRows does", () => {
    const bytes = ResultParquet.encodeBatch(chunkBatch({ ...task, count: 0 }, [], worlds["celestial and spectral"]))
    expect(Buffer.from(bytes).equals(Buffer.from(ResultParquet.encodeRows([])))).toBe(true)
  })
})

const rowsWithLon = (results: ReadonlyArray<Native.Decomposition>, chunk: FitTask, w: CubeWorld) =>
  results.filter((d, i) => toRow(chunk, i, d, w).lon !== null).length
