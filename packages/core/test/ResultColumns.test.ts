import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { parquetMetadata } from "hyparquet"
import { parquetWriteBuffer } from "hyparquet-writer"
import { fromBytes, type ByteSource } from "../src/Fits.js"
import { decodeBatch, readColumns, type ListColumn, type NumberColumn } from "../src/ResultColumns.js"
import { decodeRows, encodeRows, makeWriter, PARQUET_SCHEMA } from "../src/ResultParquet.js"
import { RESULT_COLUMNS, type DecompositionRow } from "../src/ResultSchema.js"
import type { Column, RowBatch } from "../src/RowBatch.js"

/** Rows of a 9 × 7 field: 0-3 components, a deferred and a blank one, some without world columns. */
const field: ReadonlyArray<DecompositionRow> = Array.from({ length: 63 }, (_, i) => {
  const x = i % 9
  const y = Math.floor(i / 9)
  const n = i === 5 ? -1 : i % 4
  const k = Math.max(n, 0)
  const list = (f: (j: number) => number) => Array.from({ length: k }, (_, j) => f(j))
  const world = i % 10 !== 3
  return {
    x, y, beta: 3.5, rms: i === 6 ? null : 0.2 + i / 1000, min_persistence: k === 0 ? null : 1.5, n_components: n,
    component_amplitudes: list((j) => 1 + j + i / 7), component_means: list((j) => 50 + 20 * j + x), component_stddevs: list((j) => 2 + j / 3),
    nan_channels: i === 6 ? 424 : i % 3, residual_rms: n < 0 ? null : 0.21, chi2_reduced: n < 0 || i === 6 ? null : 1 + i / 100, aicc: null,
    component_amplitude_errors: list(() => 0.1), component_mean_errors: list((j) => (j === 1 ? Number.NaN : 0.3)), component_stddev_errors: list(() => 0.2),
    run_id: "run-a", cube: "cubes/a.fits", lon: world ? 30 + x / 100 : null, lat: world ? y / 100 : null,
    component_velocities: world ? list((j) => -10 + j) : null, component_velocity_dispersions: world ? list(() => 1.5) : null,
    component_integrated_intensities: world ? list((j) => 3 * (j + 1)) : null, refit: i % 4 === 1 ? "count" : null,
    ...(i % 11 === 2 ? { cube: "cubes/é-other.fits" } : {})
  }
})

const NAMES = RESULT_COLUMNS.filter((c) => c.parquet !== "string").map((c) => c.name)

/** A source that records the byte ranges read. */
const recording = (bytes: Uint8Array) => {
  const reads: Array<[number, number]> = []
  const inner = fromBytes(bytes)
  const src: ByteSource<never> = { size: inner.size, read: (o, n) => (reads.push([o, n]), inner.read(o, n)) }
  return { src, reads }
}

/** The value of row i of a column as decodeRows gives it. */
const cell = (c: Column, i: number): string | number | null | ReadonlyArray<number> =>
  c.kind === "string"
    ? c.values[i]
    : c.kind === "number"
    ? c.nulls[i] === 1 ? null : c.values[i]
    : c.nulls[i] === 1 ? null : Array.from(c.values.subarray(c.offsets[i], c.offsets[i + 1]))

/** The batch's rows equal decodeRows' rows, every column (refit absent reads as null). */
const sameRows = (batch: RowBatch, rows: ReadonlyArray<DecompositionRow>) => {
  expect(batch.rows).toBe(rows.length)
  RESULT_COLUMNS.forEach((column, c) => rows.forEach((r, i) => expect(cell(batch.columns[c], i), `${column.name}[${i}]`).toStrictEqual(r[column.name] ?? null)))
}

const concatBytes = (pieces: ReadonlyArray<Uint8Array>) => {
  const bytes = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0))
  pieces.reduce((at, p) => (bytes.set(p, at), at + p.length), 0)
  return bytes
}

const agree = (bytes: Uint8Array) =>
  Effect.gen(function* () {
    const rows = yield* decodeRows(bytes)
    const got = yield* readColumns(fromBytes(bytes), NAMES)
    expect(got.rows).toBe(rows.length)
    for (const name of NAMES) {
      const column = got.columns.get(name)!
      rows.forEach((r, i) => expect(cell(column, i), `${name}[${i}]`).toStrictEqual(r[name] ?? null))
    }
  })

describe("ResultColumns.readColumns", () => {
  it.effect("reads every number and list column as decodeRows reads the rows (nulls, empty lists, NaN)", () => agree(encodeRows(field)))

  it.effect("reads lists where no row is null or empty, and numbers where none is null", () =>
    agree(encodeRows(field.filter((r) => r.n_components > 0 && r.lon !== null && r.rms !== null && r.chi2_reduced !== null))))

  it.effect("reads a file of several row groups in file order", () => {
    const w = makeWriter()
    const pieces = [w.rowGroup(field.slice(0, 20)), w.rowGroup(field.slice(20, 21)), w.rowGroup(field.slice(21)), w.finish()]
    const bytes = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0))
    pieces.reduce((at, p) => (bytes.set(p, at), at + p.length), 0)
    return agree(bytes)
  })

  it.effect("reads only the footer and the named columns' chunks", () =>
    Effect.gen(function* () {
      const bytes = encodeRows(field)
      const { src, reads } = recording(bytes)
      const got = yield* readColumns(src, ["n_components", "component_means"])
      expect([...got.columns.keys()].sort()).toEqual(["component_means", "n_components"])
      // the footer's length, the footer, then exactly the two column chunks
      const chunks = parquetMetadata(bytes).row_groups[0].columns
        .filter((c) => ["n_components", "component_means"].includes(c.meta_data!.path_in_schema[0]))
        .map((c) => [Number(c.meta_data!.data_page_offset), Number(c.meta_data!.total_compressed_size)])
      expect(reads.length).toBe(4)
      expect(reads.slice(2).sort((a, b) => a[0] - b[0])).toEqual(chunks.sort((a, b) => a[0] - b[0]))
    }))

  it.effect("a column the file lacks reads as all null (a file written before it existed); v2 pages read too", () =>
    Effect.gen(function* () {
      // hyparquet-writer writes v2 data pages
      const old = new Uint8Array(parquetWriteBuffer({ columnData: [{ name: "x", data: new Int32Array([4, 5, 6]), type: "INT32" }] }))
      const got = yield* readColumns(fromBytes(old), ["x", "lon", "component_velocities"])
      expect(Array.from((got.columns.get("x") as NumberColumn).values)).toEqual([4, 5, 6])
      const lon = got.columns.get("lon") as NumberColumn
      expect(Array.from(lon.nulls)).toEqual([1, 1, 1])
      expect(lon.values.every(Number.isNaN)).toBe(true)
      const v = got.columns.get("component_velocities") as ListColumn
      expect([Array.from(v.nulls), Array.from(v.offsets)]).toEqual([[1, 1, 1], [0, 0, 0, 0]])
    }))

  it.effect("refuses string columns, unknown columns and bytes that are not Parquet", () =>
    Effect.gen(function* () {
      const bytes = encodeRows(field)
      expect((yield* Effect.flip(readColumns(fromBytes(bytes), ["run_id"]))).reason).toMatch(/run_id is not a number or list column/)
      expect((yield* Effect.flip(readColumns(fromBytes(bytes), ["nope"]))).reason).toMatch(/nope is not/)
      expect((yield* Effect.flip(readColumns(fromBytes(new TextEncoder().encode("hello, not parquet at all")), ["x"]))).reason).toMatch(/not a readable Parquet file/)
      const cut = bytes.slice(0, bytes.length - 100)
      expect((yield* Effect.flip(readColumns(fromBytes(cut), ["x"])))._tag).toBe("ResultDecodeError")
    }))
})

describe("ResultColumns.decodeBatch", () => {
  it.effect("reads every column, strings included, as decodeRows reads the rows", () =>
    Effect.gen(function* () {
      const bytes = encodeRows(field)
      sameRows(yield* decodeBatch(bytes), yield* decodeRows(bytes))
    }))

  it.effect("a decoded batch encodes back to the same bytes, whole or in slices", () =>
    Effect.gen(function* () {
      const bytes = encodeRows(field)
      const batch = yield* decodeBatch(bytes)
      const w = makeWriter()
      expect(Buffer.from(concatBytes([w.batch(batch), w.finish()])).equals(Buffer.from(bytes))).toBe(true)
    }))

  it.effect("reads a file of several row groups, and one of zero rows", () =>
    Effect.gen(function* () {
      const w = makeWriter()
      const bytes = concatBytes([w.rowGroup(field.slice(0, 20)), w.rowGroup(field.slice(20)), w.finish()])
      sameRows(yield* decodeBatch(bytes), field)
      expect((yield* decodeBatch(encodeRows([]))).rows).toBe(0)
    }))

  it.effect("reads a file of an earlier writer (dictionary pages) through decodeRows", () =>
    Effect.gen(function* () {
      const old = new Uint8Array(
        parquetWriteBuffer({ schema: [...PARQUET_SCHEMA], columnData: RESULT_COLUMNS.map((c) => ({ name: c.name, data: field.map((r) => r[c.name] ?? null) })) })
      )
      expect(parquetMetadata(old).row_groups[0].columns.some((c) => c.meta_data!.dictionary_page_offset !== undefined)).toBe(true)
      sameRows(yield* decodeBatch(old), field)
    }))

  it.effect("refuses what decodeRows refuses: not Parquet, other columns, a row outside the row schema", () =>
    Effect.gen(function* () {
      const reason = (bytes: Uint8Array) => Effect.map(Effect.flip(decodeBatch(bytes)), (e) => e.reason)
      expect(yield* reason(new TextEncoder().encode("hello, not parquet at all"))).toMatch(/not a readable Parquet file/)
      const other = new Uint8Array(parquetWriteBuffer({ columnData: [{ name: "x", data: new Int32Array([1]), type: "INT32" }] }))
      expect(yield* reason(other)).toMatch(/^columns \(x\) are not the result columns/)
      expect(yield* reason(encodeRows([field[0], { ...field[1], n_components: -3 }]))).toBe("invalid result row: row 1: n_components is -3, below -1")
      expect(yield* reason(encodeRows([{ ...field[0], x: -1 }]))).toMatch(/row 0: x is -1, below 0/)
      // a required list written as a null list
      expect(yield* reason(encodeRows([field[0], { ...field[2], component_means: null as unknown as ReadonlyArray<number> }]))).toBe(
        "invalid result row: row 1: component_means is null"
      )
      for (const bytes of [encodeRows([{ ...field[1], n_components: -3 }]), encodeRows([{ ...field[0], component_means: null as unknown as ReadonlyArray<number> }])]) {
        expect((yield* Effect.flip(decodeRows(bytes)))._tag).toBe("ResultDecodeError")
      }
    }))
})
