import { describe, expect, it } from "@effect/vitest"
import * as Native from "@phs/fit-native"
import { Effect, Schema } from "effect"
import * as ResultParquet from "../src/ResultParquet.js"
import { DecompositionRow } from "../src/ResultSchema.js"
import { toRow } from "../src/stages/Fit.js"
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
