import { DuckDBInstance } from "@duckdb/node-api"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import { parquetWriteBuffer } from "hyparquet-writer"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parquetMetadata } from "hyparquet"
import { parquetHeader } from "hyparquet/src/column.js"
import { decodeRows, encodeRows, makeWriter, PARQUET_SCHEMA, ROW_GROUP_ROWS } from "../src/ResultParquet.js"
import { DecompositionRow, RESULT_COLUMNS } from "../src/ResultSchema.js"

const row = (x: number, y: number, n: number, over: Partial<DecompositionRow> = {}): DecompositionRow => {
  const k = Math.max(n, 0)
  return {
    x,
    y,
    beta: 3.5,
    rms: 0.25 + x / 100,
    min_persistence: k === 0 ? null : 1.5,
    n_components: n,
    component_amplitudes: Array.from({ length: k }, (_, i) => 1 + i + x),
    component_means: Array.from({ length: k }, (_, i) => 100.5 + i * 10),
    component_stddevs: Array.from({ length: k }, (_, i) => 2.25 + i),
    nan_channels: 0,
    residual_rms: n < 0 ? null : 0.26 + x / 100,
    chi2_reduced: n < 0 ? null : 1.05,
    aicc: n < 0 ? null : -612.5 + x,
    component_amplitude_errors: Array.from({ length: k }, (_, i) => 0.1 + i / 100),
    component_mean_errors: Array.from({ length: k }, (_, i) => (i === 2 ? Number.NaN : 0.2 + i / 10)),
    component_stddev_errors: Array.from({ length: k }, (_, i) => 0.3 + i / 10),
    run_id: "run-abc",
    cube: "cubes/grs-abc.fits",
    lon: 30 + x * 0.006,
    lat: y * 0.006 - 0.5,
    component_velocities: Array.from({ length: k }, (_, i) => 40.25 + i),
    component_velocity_dispersions: Array.from({ length: k }, (_, i) => 0.5 + i),
    component_integrated_intensities: Array.from({ length: k }, (_, i) => 1.25 * (1 + i + x)),
    refit: x % 7 === 3 ? "count" : null,
    ...over
  }
}

/** A 20 × 10 field with 0-4 components per spectrum, one deferred and one blank spectrum. */
const field: ReadonlyArray<DecompositionRow> = Array.from({ length: 200 }, (_, i) => {
  const x = i % 20
  const y = Math.floor(i / 20)
  if (i === 7) return row(x, y, -1, { min_persistence: null })
  if (i === 8) return row(x, y, 0, { rms: null, nan_channels: 424 })
  if (i === 9) return row(x, y, i % 5, { lon: null, lat: null, component_velocities: null, component_velocity_dispersions: null, component_integrated_intensities: null })
  return row(x, y, i % 5)
})

let dir: string
let db: DuckDBInstance

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "phs-parquet-"))
  db = await DuckDBInstance.create(":memory:")
})
afterAll(() => {
  db.closeSync()
  rmSync(dir, { recursive: true, force: true })
})

const write = (name: string, bytes: Uint8Array) => {
  const path = join(dir, name)
  mkdirSync(join(path, ".."), { recursive: true })
  writeFileSync(path, bytes)
  return path
}

const query = (sql: string) =>
  Effect.promise(async () => {
    const connection = await db.connect()
    try {
      return (await connection.runAndReadAll(sql)).getRowObjectsJS()
    } finally {
      connection.closeSync()
    }
  })

describe("ResultSchema", () => {
  it("lists the result columns in file order with their Glue and DuckDB types", () => {
    expect(RESULT_COLUMNS.map((c) => [c.name, c.glue, c.duckdb, c.nullable])).toEqual([
      ["x", "int", "INTEGER", false],
      ["y", "int", "INTEGER", false],
      ["beta", "double", "DOUBLE", false],
      ["rms", "double", "DOUBLE", true],
      ["min_persistence", "double", "DOUBLE", true],
      ["n_components", "int", "INTEGER", false],
      ["component_amplitudes", "array<double>", "DOUBLE[]", false],
      ["component_means", "array<double>", "DOUBLE[]", false],
      ["component_stddevs", "array<double>", "DOUBLE[]", false],
      ["nan_channels", "int", "INTEGER", false],
      ["residual_rms", "double", "DOUBLE", true],
      ["chi2_reduced", "double", "DOUBLE", true],
      ["aicc", "double", "DOUBLE", true],
      ["component_amplitude_errors", "array<double>", "DOUBLE[]", false],
      ["component_mean_errors", "array<double>", "DOUBLE[]", false],
      ["component_stddev_errors", "array<double>", "DOUBLE[]", false],
      ["run_id", "string", "VARCHAR", false],
      ["cube", "string", "VARCHAR", false],
      ["lon", "double", "DOUBLE", true],
      ["lat", "double", "DOUBLE", true],
      ["component_velocities", "array<double>", "DOUBLE[]", true],
      ["component_velocity_dispersions", "array<double>", "DOUBLE[]", true],
      ["component_integrated_intensities", "array<double>", "DOUBLE[]", true],
      ["refit", "string", "VARCHAR", true]
    ])
    expect(RESULT_COLUMNS.every((c) => c.doc.length > 0)).toBe(true)
  })

  it("DecompositionRow accepts a deferred row and refuses impossible values", () => {
    const decode = Schema.decodeUnknownEither(DecompositionRow)
    expect(Either.isRight(decode(row(0, 0, -1)))).toBe(true)
    expect(Either.isLeft(decode(row(0, 0, -2)))).toBe(true)
    expect(Either.isLeft(decode(row(-1, 0, 1)))).toBe(true)
    expect(Either.isLeft(decode(row(0.5, 0, 1)))).toBe(true)
    expect(Either.isLeft(decode(row(2 ** 31, 0, 1)))).toBe(true)
    expect(Either.isLeft(decode({ ...row(0, 0, 1), run_id: undefined }))).toBe(true)
  })
})

describe("ResultParquet with DuckDB", () => {
  it.effect("DuckDB reads every column with the declared type, in order", () =>
    Effect.gen(function*() {
      const path = write("types.parquet", encodeRows(field))
      const described = yield* query(`DESCRIBE SELECT * FROM read_parquet('${path}')`)
      expect(described.map((r) => [r.column_name, r.column_type])).toEqual(RESULT_COLUMNS.map((c) => [c.name, c.duckdb]))
    }))

  it.effect("writes lists as three-level LIST groups of required doubles", () =>
    Effect.gen(function*() {
      const path = write("lists.parquet", encodeRows(field))
      const schema = yield* query(
        `SELECT name, repetition_type, converted_type, type FROM parquet_schema('${path}')`
      )
      for (const name of ["component_amplitudes", "component_means", "component_stddevs"]) {
        const at = schema.findIndex((r) => r.name === name)
        expect(schema.slice(at, at + 3)).toEqual([
          { name, repetition_type: "OPTIONAL", converted_type: "LIST", type: null },
          { name: "list", repetition_type: "REPEATED", converted_type: null, type: null },
          { name: "element", repetition_type: "REQUIRED", converted_type: null, type: "DOUBLE" }
        ])
      }
      expect(schema.find((r) => r.name === "run_id")?.converted_type).toBe("UTF8")
    }))

  it.effect("compresses every column chunk with Snappy and names phs as the writer", () =>
    Effect.gen(function*() {
      const path = write("snappy.parquet", encodeRows(field))
      const codecs = yield* query(`SELECT DISTINCT compression FROM parquet_metadata('${path}')`)
      expect(codecs).toEqual([{ compression: "SNAPPY" }])
      const [meta] = yield* query(`SELECT created_by, num_rows FROM parquet_file_metadata('${path}')`)
      expect(meta).toEqual({ created_by: "phs", num_rows: 200n })
    }))

  it.effect("keeps a null rms null and an empty list empty (not null)", () =>
    Effect.gen(function*() {
      const path = write("nulls.parquet", encodeRows(field))
      const rows = yield* query(
        `SELECT x, y, rms, min_persistence, len(component_means) AS n, component_means IS NULL AS list_null
         FROM read_parquet('${path}') WHERE y = 0 AND x IN (0, 7, 8) ORDER BY x`
      )
      expect(rows).toEqual([
        { x: 0, y: 0, rms: 0.25, min_persistence: null, n: 0n, list_null: false },
        { x: 7, y: 0, rms: 0.32, min_persistence: null, n: 0n, list_null: false },
        { x: 8, y: 0, rms: null, min_persistence: null, n: 0n, list_null: false }
      ])
    }))

  it.effect("list lengths equal n_components (len, array_length), and are 0 for a deferred spectrum", () =>
    Effect.gen(function*() {
      const path = write("cardinality.parquet", encodeRows(field))
      const [check] = yield* query(
        `SELECT count(*) AS rows,
                count(*) FILTER (WHERE len(component_amplitudes) = greatest(n_components, 0)
                                   AND array_length(component_means) = greatest(n_components, 0)
                                   AND len(component_stddevs) = greatest(n_components, 0)) AS consistent,
                sum(n_components) FILTER (WHERE n_components >= 0) AS components,
                count(*) FILTER (WHERE n_components = -1) AS deferred
         FROM read_parquet('${path}')`
      )
      expect(check).toEqual({ rows: 200n, consistent: 200n, components: 395n, deferred: 1n })
      const [first] = yield* query(
        `SELECT component_amplitudes, component_means, component_stddevs FROM read_parquet('${path}') WHERE x = 4 AND y = 0`
      )
      expect(first).toEqual({
        component_amplitudes: [5, 6, 7, 8],
        component_means: [100.5, 110.5, 120.5, 130.5],
        component_stddevs: [2.25, 3.25, 4.25, 5.25]
      })
    }))

  it.effect("a Hive-partitioned directory gets a survey column from the path", () =>
    Effect.gen(function*() {
      write("table/survey=a/run-1.parquet", encodeRows(field.slice(0, 50)))
      write("table/survey=b/run-1.parquet", encodeRows(field.slice(0, 30)))
      write("table/survey=b/run-2.parquet", encodeRows(field.slice(30, 40).map((r) => ({ ...r, run_id: "run-2" }))))
      const counts = yield* query(
        `SELECT survey, count(*) AS n, count(DISTINCT run_id) AS runs
         FROM read_parquet('${join(dir, "table")}/*/*.parquet', hive_partitioning = true)
         GROUP BY survey ORDER BY survey`
      )
      expect(counts).toEqual([{ survey: "a", n: 50n, runs: 1n }, { survey: "b", n: 40n, runs: 2n }])
      const described = yield* query(
        `DESCRIBE SELECT * FROM read_parquet('${join(dir, "table")}/*/*.parquet', hive_partitioning = true)`
      )
      expect(described.map((r) => r.column_name)).toEqual([...RESULT_COLUMNS.map((c) => c.name), "survey"])
    }))

  it.effect("zero rows give a valid file with the full schema", () =>
    Effect.gen(function*() {
      const bytes = encodeRows([])
      const path = write("empty.parquet", bytes)
      expect(yield* query(`SELECT count(*) AS n FROM read_parquet('${path}')`)).toEqual([{ n: 0n }])
      const described = yield* query(`DESCRIBE SELECT * FROM read_parquet('${path}')`)
      expect(described.map((r) => r.column_type)).toEqual(RESULT_COLUMNS.map((c) => c.duckdb))
      expect(yield* decodeRows(bytes)).toEqual([])
    }))

  it.effect(`splits large files into row groups of ${ROW_GROUP_ROWS.toLocaleString("en-US")} rows`, () =>
    Effect.gen(function*() {
      const rows = Array.from({ length: 2 * ROW_GROUP_ROWS + 1000 }, (_, i) => row(i % 500, Math.floor(i / 500), i % 3))
      const path = write("large.parquet", encodeRows(rows))
      const groups = yield* query(
        `SELECT row_group_id, any_value(row_group_num_rows) AS n FROM parquet_metadata('${path}') GROUP BY 1 ORDER BY 1`
      )
      expect(groups.map((g) => g.n)).toEqual([BigInt(ROW_GROUP_ROWS), BigInt(ROW_GROUP_ROWS), 1000n])
      const n = rows.length - 1
      const [last] = yield* query(`SELECT x, y, n_components FROM read_parquet('${path}') WHERE x = ${n % 500} AND y = ${Math.floor(n / 500)}`)
      expect(last).toEqual({ x: n % 500, y: Math.floor(n / 500), n_components: n % 3 })
    }))
})

describe("ResultParquet page layer", () => {
  /** The kind of every page in the file, read from the page headers the footer points at. */
  const pageTypes = (bytes: Uint8Array): Array<string> => {
    const buffer = bytes.slice().buffer
    const view = new DataView(buffer)
    const types: Array<string> = []
    for (const group of parquetMetadata(buffer).row_groups) {
      for (const chunk of group.columns) {
        const meta = chunk.meta_data!
        const end = Number(meta.data_page_offset) + Number(meta.total_compressed_size)
        const reader = { view, offset: Number(meta.data_page_offset) }
        while (reader.offset < end) {
          const header = parquetHeader(reader)
          types.push(header.type)
          reader.offset += header.compressed_page_size
        }
      }
    }
    return types
  }

  it("writes v1 data pages only (DATA_PAGE, never DATA_PAGE_V2)", () => {
    const rows = Array.from({ length: ROW_GROUP_ROWS + 10 }, (_, i) => row(i % 300, Math.floor(i / 300), i % 4))
    const types = pageTypes(encodeRows(rows))
    expect(types.length).toBe(2 * RESULT_COLUMNS.length)
    expect(new Set(types)).toEqual(new Set(["DATA_PAGE"]))
    // the library's own writer, for contrast: the check does see v2 pages
    const v2 = new Uint8Array(parquetWriteBuffer({ columnData: [{ name: "x", data: [1, 2, 3], type: "INT32" }] }))
    expect(pageTypes(v2)).toEqual(["DATA_PAGE_V2"])
  })

  it("records each column chunk's sizes as its page header and page make them", () => {
    const bytes = encodeRows(Array.from({ length: 700 }, (_, i) => row(i % 70, Math.floor(i / 70), (i % 5) - 1)))
    const buffer = bytes.slice().buffer
    for (const chunk of parquetMetadata(buffer).row_groups.flatMap((g) => g.columns)) {
      const meta = chunk.meta_data!
      const reader = { view: new DataView(buffer), offset: Number(meta.data_page_offset) }
      const header = parquetHeader(reader)
      const headerBytes = reader.offset - Number(meta.data_page_offset)
      expect(Number(meta.total_compressed_size)).toBe(headerBytes + header.compressed_page_size)
      expect(Number(meta.total_uncompressed_size)).toBe(headerBytes + header.uncompressed_page_size)
    }
  })

  it("the encoder's early release of its buffers changes no byte", () => {
    const rows = Array.from({ length: 900 }, (_, i) => row(i % 90, Math.floor(i / 90), (i % 5) - 1, i % 11 === 0 ? { rms: null } : {}))
    const released = encodeRows(rows)
    // without ArrayBuffer.prototype.transfer, nothing is released
    const transfer = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "transfer")
    expect(transfer).toBeDefined()
    delete (ArrayBuffer.prototype as { transfer?: unknown }).transfer
    try {
      expect(Buffer.from(encodeRows(rows)).equals(Buffer.from(released))).toBe(true)
    } finally {
      Object.defineProperty(ArrayBuffer.prototype, "transfer", transfer!)
    }
  })

  it("a file written a row group at a time is the file encodeRows writes", () => {
    const rows = Array.from({ length: 2 * ROW_GROUP_ROWS + 77 }, (_, i) => row(i % 400, Math.floor(i / 400), i % 5))
    const writer = makeWriter()
    const pieces = [
      writer.rowGroup(rows.slice(0, ROW_GROUP_ROWS)),
      writer.rowGroup(rows.slice(ROW_GROUP_ROWS, 2 * ROW_GROUP_ROWS)),
      writer.rowGroup(rows.slice(2 * ROW_GROUP_ROWS)),
      writer.finish()
    ]
    expect(writer.rows()).toBe(rows.length)
    expect(Buffer.concat(pieces).equals(Buffer.from(encodeRows(rows)))).toBe(true)
  })
})

describe("ResultParquet with Polars (a second, independent reader)", () => {
  it("Polars reads the values, nulls and list columns", async () => {
    const pl = await import("nodejs-polars")
    const path = write("polars.parquet", encodeRows(field))
    const df = pl.readParquet(path)
    expect(df.height).toBe(field.length)
    expect(df.columns).toEqual(RESULT_COLUMNS.map((c) => c.name))
    const records = df.toRecords() as Array<Record<string, unknown>>
    const asRow = (r: Record<string, unknown>) => ({
      ...r,
      component_amplitudes: [...(r.component_amplitudes as Iterable<number>)],
      component_means: [...(r.component_means as Iterable<number>)],
      component_stddevs: [...(r.component_stddevs as Iterable<number>)]
    })
    expect(records.map(asRow)).toEqual(field)
    for (const name of ["component_amplitudes", "component_means", "component_stddevs"])
      expect(df.getColumn(name).dtype.equals(pl.DataType.List(pl.DataType.Float64))).toBe(true)
    expect(df.getColumn("rms").nullCount()).toBe(1)
  })
})

describe("ResultParquet statistics", () => {
  it.effect("each row group carries min, max and null counts (what readers prune row groups by)", () =>
    Effect.gen(function*() {
      const path = write("stats.parquet", encodeRows(field))
      const stats = yield* query(
        `SELECT path_in_schema AS col, stats_min_value AS min, stats_max_value AS max, stats_null_count AS nulls
         FROM parquet_metadata('${path}') WHERE path_in_schema IN ('y', 'rms', 'n_components') ORDER BY 1`
      )
      expect(stats).toEqual([
        { col: "n_components", min: "-1", max: "4", nulls: 0n },
        { col: "rms", min: "0.25", max: String(0.25 + 19 / 100), nulls: 1n },
        { col: "y", min: "0", max: "9", nulls: 0n }
      ])
    }))
})

describe("ResultParquet round trip", () => {
  it.effect("decodeRows(encodeRows(rows)) gives the rows back, in order", () =>
    Effect.gen(function*() {
      expect(yield* decodeRows(encodeRows(field))).toEqual(field)
    }))

  it.effect.prop(
    "any valid rows survive the round trip, NaN and ±Infinity included",
    [Schema.Array(DecompositionRow)],
    ([rows]) =>
      Effect.gen(function*() {
        const decoded = yield* decodeRows(encodeRows(rows))
        // a row without the optional `refit` is written, and read back, as null
        expect(decoded).toEqual(rows.map((r) => ({ ...r, refit: r.refit ?? null })))
        decoded.forEach((r, i) => expect(Object.is(r.beta, rows[i].beta)).toBe(true))
      }),
    { fastCheck: { numRuns: 50 } }
  )

  it("encodes the same rows to the same bytes", () => {
    const a = encodeRows(field)
    const b = encodeRows(field.map((r) => ({ ...r, component_means: [...r.component_means] })))
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true)
  })

  it.effect("re-encoding decoded rows reproduces the file byte for byte", () =>
    Effect.gen(function*() {
      const bytes = encodeRows(field)
      const again = encodeRows(yield* decodeRows(bytes))
      expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true)
    }))

  it.effect("reads a file written before the refit column, with refit absent", () =>
    Effect.gen(function*() {
      const now = write("with-refit.parquet", encodeRows(field))
      const old = join(dir, "before-refit.parquet")
      yield* query(`COPY (SELECT * EXCLUDE (refit) FROM read_parquet('${now}')) TO '${old}' (FORMAT parquet)`)
      const rows = yield* decodeRows(new Uint8Array(readFileSync(old)))
      expect(rows).toEqual(field.map(({ refit: _refit, ...r }) => r))
      expect(rows.every((r) => !("refit" in r))).toBe(true)
    }))

  it.effect("decodes a file held in a view of a larger buffer", () =>
    Effect.gen(function*() {
      const bytes = encodeRows(field.slice(0, 3))
      const padded = new Uint8Array(bytes.length + 8)
      padded.set(bytes, 4)
      expect(yield* decodeRows(padded.subarray(4, 4 + bytes.length))).toEqual(field.slice(0, 3))
    }))

  it("derives its Parquet schema from RESULT_COLUMNS", () => {
    const topLevel = PARQUET_SCHEMA.filter((e) => e.name !== "list" && e.name !== "element").slice(1)
    expect(topLevel.map((e) => e.name)).toEqual(RESULT_COLUMNS.map((c) => c.name))
    expect(PARQUET_SCHEMA[0].num_children).toBe(RESULT_COLUMNS.length)
  })
})

describe("ResultParquet.decodeRows refuses", () => {
  const reason = (bytes: Uint8Array) =>
    Effect.map(Effect.flip(decodeRows(bytes)), (e) => {
      expect(e._tag).toBe("ResultDecodeError")
      expect(e.retryable).toBe(false)
      return e.reason
    })

  it.effect("bytes that are not Parquet", () =>
    Effect.gen(function*() {
      expect(yield* reason(new TextEncoder().encode("definitely not a parquet file"))).toMatch(
        /^not a readable Parquet file: /
      )
    }))

  it.effect("a Parquet file with other columns", () =>
    Effect.gen(function*() {
      const other = new Uint8Array(parquetWriteBuffer({ columnData: [{ name: "x", data: [1], type: "INT32" }] }))
      expect(yield* reason(other)).toBe(
        `columns (x) are not the result columns (${RESULT_COLUMNS.map((c) => c.name).join(", ")})`
      )
    }))

  it.effect("a row outside the row schema", () =>
    Effect.gen(function*() {
      const bad = encodeRows([row(0, 0, 1), row(1, 0, -3)])
      expect(yield* reason(bad)).toMatch(/^invalid result row: [\s\S]*n_components[\s\S]*-3/)
    }))
})
