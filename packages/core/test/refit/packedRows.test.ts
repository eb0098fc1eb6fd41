import { describe, expect, it } from "@effect/vitest"
import { pack, unpack } from "../../src/refit/PackedRows.js"
import { RESULT_COLUMNS, type DecompositionRow } from "../../src/ResultSchema.js"
import { makeField } from "./field.js"

const field = makeField(6, 5, 3, (x, y) => x === 2 && y === 2)

describe("PackedRows", () => {
  it("gives back every row as it was: nulls, absent keys, NaN, -0, lists and strings", () => {
    const rows: Array<DecompositionRow> = [
      ...field.rows,
      { ...field.rows[0], rms: null, aicc: -0, component_mean_errors: [NaN, -0, 1e-300], refit: "count*" },
      { ...field.rows[1], component_velocities: [1.5, -2.25], component_velocity_dispersions: [], refit: null, cube: "other.fits" }
    ]
    const back = unpack(pack(rows))
    expect(back).toStrictEqual(rows)
    expect(Object.is(back.at(-2)!.aicc, -0)).toBe(true)
    // absent stays absent, null stays null
    expect("refit" in back[0]).toBe(false)
    expect(back.at(-1)!.refit).toBeNull()
  })

  it("carries the result columns only, in their order", () => {
    const extra = { ...field.rows[0], survey: "grs" } as DecompositionRow
    const [back] = unpack(pack([extra]))
    expect(Object.keys(back)).toStrictEqual(RESULT_COLUMNS.map((c) => c.name).filter((n) => n !== "refit"))
  })

  it("packs no rows", () => {
    expect(unpack(pack([]))).toStrictEqual([])
  })
})
