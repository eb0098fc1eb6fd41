import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import { isResultRow } from "../src/internal/rowCheck.js"
import * as ResultParquet from "../src/ResultParquet.js"
import { DecompositionRow } from "../src/ResultSchema.js"

const row: DecompositionRow = {
  x: 3,
  y: 0,
  beta: 3.5,
  rms: 0.25,
  min_persistence: 1.2,
  n_components: 2,
  component_amplitudes: [1, 2],
  component_means: [10.5, 80],
  component_stddevs: [2, 3],
  nan_channels: 0,
  residual_rms: 0.24,
  chi2_reduced: 1.01,
  aicc: -1200,
  component_amplitude_errors: [0.1, 0.2],
  component_mean_errors: [0.1, Number.NaN],
  component_stddev_errors: [0.1, 0.2],
  run_id: "run-a",
  cube: "cubes/a.fits",
  lon: null,
  lat: 12.5,
  component_velocities: null,
  component_velocity_dispersions: [1, 2],
  component_integrated_intensities: [],
  refit: null
}

const { refit: _, ...beforeRefit } = row

/** Rows the schema takes unchanged and rows it refuses or would change, one field at a time. */
const cases: Array<[string, unknown]> = [
  ["a full row", row],
  ["a row without refit (files before it)", beforeRefit],
  ["a refit flag", { ...row, refit: "neighbours" }],
  ["NaN and infinite doubles", { ...row, rms: Number.NaN, aicc: Number.POSITIVE_INFINITY }],
  ["a deferred row", { ...row, n_components: -1, component_amplitudes: [], residual_rms: null }],
  ["a negative x", { ...row, x: -1 }],
  ["n_components below -1", { ...row, n_components: -2 }],
  ["a fractional y", { ...row, y: 1.5 }],
  ["an int beyond int32", { ...row, nan_channels: 2 ** 31 }],
  ["null where not nullable", { ...row, beta: null }],
  ["null list where not nullable", { ...row, component_means: null }],
  ["a string in a list", { ...row, component_stddevs: [1, "2"] }],
  ["a number as run_id", { ...row, run_id: 7 }],
  ["a missing column", (({ lat: _lat, ...rest }) => rest)(row)],
  ["a defaulted list absent", (({ component_velocities: _v, ...rest }) => rest)(row)],
  ["refit undefined but present", { ...row, refit: undefined }],
  ["not an object", 42],
  ["null", null]
]

describe("isResultRow", () => {
  it.each(cases)("agrees with the row schema: %s", (_name, candidate) => {
    const decoded = Schema.decodeUnknownEither(DecompositionRow)(candidate)
    const takenAsIs = Either.isRight(decoded) && Object.is(JSON.stringify(decoded.right), JSON.stringify(candidate))
    // Whatever the check accepts, the schema accepts unchanged; what it refuses goes to the schema.
    if (isResultRow(candidate)) expect(takenAsIs).toBe(true)
    else if (Either.isRight(decoded)) expect(["a defaulted list absent", "refit undefined but present"]).toContain(_name)
  })

  it("accepts the valid rows and refuses the invalid ones", () => {
    const accepted = cases.filter(([, c]) => isResultRow(c)).map(([n]) => n)
    expect(accepted).toEqual(["a full row", "a row without refit (files before it)", "a refit flag", "NaN and infinite doubles", "a deferred row"])
  })

  it.effect("decodeRows reads back what encodeRows wrote, and still says what is wrong with a bad row", () =>
    Effect.gen(function* () {
      const rows = [row, { ...row, x: 4, refit: "neighbours" }]
      expect(yield* ResultParquet.decodeRows(ResultParquet.encodeRows(rows))).toEqual(rows)
      const bad = yield* Effect.flip(ResultParquet.decodeRows(ResultParquet.encodeRows([{ ...row, n_components: -5 }])))
      expect(bad.reason).toMatch(/invalid result row/)
    })
  )
})
