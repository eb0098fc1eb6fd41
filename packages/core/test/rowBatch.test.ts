import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ResultColumns from "../src/ResultColumns.js"
import * as ResultParquet from "../src/ResultParquet.js"
import { RESULT_COLUMNS, type DecompositionRow } from "../src/ResultSchema.js"
import * as RowBatch from "../src/RowBatch.js"
import { makeField } from "./refit/field.js"

const field = makeField(6, 5, 3, (x, y) => x === 2 && y === 2)
// the field's rows lack `refit`; these have it null, a flag, NaN, -0 and other strings
const rows: Array<DecompositionRow> = [
  ...field.rows,
  { ...field.rows[0], rms: null, aicc: -0, component_mean_errors: [NaN, -0, 1e-300], refit: "count*" },
  { ...field.rows[1], component_velocities: [1.5, -2.25], component_velocity_dispersions: [], refit: null, cube: "other.fits" }
]

describe("RowBatch row objects", () => {
  it("gives back every row as it was: nulls, absent keys, NaN, -0, lists and strings", () => {
    const back = RowBatch.toRows(RowBatch.fromRows(rows))
    expect(back).toStrictEqual(rows)
    expect(Object.is(back.at(-2)!.aicc, -0)).toBe(true)
    // absent stays absent, null stays null
    expect("refit" in back[0]).toBe(false)
    expect(back.at(-1)!.refit).toBeNull()
  })

  it("carries the result columns only, in their order", () => {
    const extra = { ...field.rows[0], survey: "grs" } as DecompositionRow
    const [back] = RowBatch.toRows(RowBatch.fromRows([extra]))
    expect(Object.keys(back)).toStrictEqual(RESULT_COLUMNS.map((c) => c.name).filter((n) => n !== "refit"))
  })

  it("gives the rows asked for, in the order asked, as new objects each time", () => {
    const batch = RowBatch.fromRows(rows)
    expect(RowBatch.toRows(batch, [rows.length - 1, 0, 3])).toStrictEqual([rows.at(-1), rows[0], rows[3]])
    const [a] = RowBatch.toRows(batch, [0])
    const [b] = RowBatch.toRows(batch, [0])
    expect(a).not.toBe(b)
    expect(a.component_means).not.toBe(b.component_means)
  })

  it("packs no rows", () => {
    expect(RowBatch.toRows(RowBatch.fromRows([]))).toStrictEqual([])
  })

  it("writes an absent key as null: the same Parquet bytes", () => {
    const nulled = rows.map((r) => ({ ...r, refit: r.refit ?? null }))
    expect(RowBatch.fromRows(rows).columns.at(-1)!.absent).toBeDefined()
    expect(RowBatch.fromRows(nulled).columns.at(-1)!.absent).toBeUndefined()
    expect(ResultParquet.encodeBatch(RowBatch.fromRows(rows))).toStrictEqual(ResultParquet.encodeBatch(RowBatch.fromRows(nulled)))
  })

  it("keeps absent keys through a builder's appends, and forgets them on reset", () => {
    const b = RowBatch.builder(rows.length)
    b.append(RowBatch.fromRows(rows.slice(-2)), 0, 2)
    b.append(RowBatch.fromRows(rows.slice(0, 3)), 0, 3)
    expect(RowBatch.toRows(b.batch())).toStrictEqual([...rows.slice(-2), ...rows.slice(0, 3)])
    b.reset()
    b.append(RowBatch.fromRows(rows.slice(-1)), 0, 1)
    expect(RowBatch.toRows(b.batch())).toStrictEqual(rows.slice(-1))
  })

  it("crosses a structured clone with its buffers transferred, not copied", () => {
    const batch = RowBatch.fromRows(rows)
    const buffers = RowBatch.buffersOf(batch)
    expect(new Set(buffers).size).toBe(buffers.length)
    const moved = structuredClone(batch, { transfer: buffers })
    expect(buffers.every((b) => b.byteLength === 0)).toBe(true)
    expect(RowBatch.toRows(moved)).toStrictEqual(rows)
  })

  it.effect("gives a decoded result file's rows as decodeRows does", () =>
    Effect.gen(function* () {
      const bytes = ResultParquet.encodeRows(rows)
      const batch = yield* ResultColumns.decodeBatch(bytes)
      expect(RowBatch.toRows(batch)).toStrictEqual(yield* ResultParquet.decodeRows(bytes))
    })
  )
})
