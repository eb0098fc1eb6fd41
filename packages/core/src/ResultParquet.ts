/**
 * Result rows to and from Parquet: v1 data pages, Snappy-compressed, lists as the standard
 * three-level LIST group (what Glue's `array<double>` and DuckDB's `DOUBLE[]` read), and the
 * same bytes for the same rows, so a rewritten file is recognisably unchanged. Files are
 * written a row group at a time (`makeWriter`), so a part's size does not bound memory.
 *
 * @since 0.1.0
 */
import { Effect, ParseResult, Schema } from "effect"
import { parquetMetadata, parquetReadObjects, parquetSchema } from "hyparquet"
import type { ColumnChunk, DecodedArray, FileMetaData, RowGroup } from "hyparquet"
import { ByteWriter } from "hyparquet-writer"
import type { SchemaElement } from "hyparquet-writer"
import { writePageHeader } from "hyparquet-writer/src/datapage.js"
import { writeRleBitPackedHybrid } from "hyparquet-writer/src/encoding.js"
import { writeMetadata } from "hyparquet-writer/src/metadata.js"
import { writePlain } from "hyparquet-writer/src/plain.js"
import { snappyCompress } from "hyparquet-writer/src/snappy.js"
import { isResultRow } from "./internal/rowCheck.js"
import { DecompositionRow, RESULT_COLUMNS, type ResultColumn } from "./ResultSchema.js"

/**
 * Bytes that are not a result file: not Parquet, other columns, or values outside the
 * row schema. Not retryable.
 *
 * @since 0.1.0
 * @category errors
 */
export class ResultDecodeError extends Schema.TaggedError<ResultDecodeError>()("ResultDecodeError", {
  reason: Schema.String
}) {
  get retryable(): boolean {
    return false
  }
  override get message(): string {
    return this.reason
  }
}

/**
 * Rows per row group: a chunk is one group; a compacted file is several, which keeps the
 * writer's memory small (encoding 116k rows in one group costs ~125 MiB, in groups of 16k
 * ~50 MiB) and lets Athena and DuckDB split a file across readers.
 *
 * @since 0.1.0
 * @category constants
 */
export const ROW_GROUP_ROWS = 16_384

/**
 * Value of the file footer's `created_by`.
 *
 * @since 0.1.0
 * @category constants
 */
export const CREATED_BY = "phs"

const elements = (column: ResultColumn): Array<SchemaElement> => {
  const repetition_type = column.nullable ? "OPTIONAL" : "REQUIRED"
  switch (column.parquet) {
    case "int32":
      return [{ name: column.name, type: "INT32", repetition_type }]
    case "double":
      return [{ name: column.name, type: "DOUBLE", repetition_type }]
    case "string":
      return [{ name: column.name, type: "BYTE_ARRAY", converted_type: "UTF8", logical_type: { type: "STRING" }, repetition_type }]
    case "list<double>":
      return [
        { name: column.name, repetition_type: "OPTIONAL", converted_type: "LIST", logical_type: { type: "LIST" }, num_children: 1 },
        { name: "list", repetition_type: "REPEATED", num_children: 1 },
        { name: "element", type: "DOUBLE", repetition_type: "REQUIRED" }
      ]
  }
}

/**
 * The Parquet schema of a result file, derived from `RESULT_COLUMNS` (flattened, root first).
 *
 * @since 0.1.0
 * @category constants
 */
export const PARQUET_SCHEMA: ReadonlyArray<SchemaElement> = [
  { name: "schema", num_children: RESULT_COLUMNS.length },
  ...RESULT_COLUMNS.flatMap(elements)
]

type Levels = { readonly values: Array<number | Uint8Array>; readonly def: Array<number>; readonly rep: Array<number>; readonly maxDef: number; readonly maxRep: number }

const utf8 = new TextEncoder()

/** Dremel levels of one column over a row group (the schema's shapes only: flat or a list). */
const levelsOf = (column: ResultColumn, rows: ReadonlyArray<DecompositionRow>): Levels => {
  const values: Array<number | Uint8Array> = []
  const def: number[] = []
  const rep: number[] = []
  if (column.parquet === "list<double>") {
    // OPTIONAL list (1) > REPEATED list (2) > REQUIRED element: an empty list is def 1.
    for (const row of rows) {
      const list = row[column.name] as ReadonlyArray<number> | null
      if (list === null) {
        def.push(0)
        rep.push(0)
      } else if (list.length === 0) {
        def.push(1)
        rep.push(0)
      } else {
        for (let i = 0; i < list.length; i++) {
          def.push(2)
          rep.push(i === 0 ? 0 : 1)
          values.push(list[i])
        }
      }
    }
    return { values, def, rep, maxDef: 2, maxRep: 1 }
  }
  const convert = column.parquet === "string" ? (v: unknown) => utf8.encode(v as string) : (v: unknown) => v as number
  for (const row of rows) {
    // an optional column a row lacks (`refit` of a run without refit) is null
    const v = row[column.name] ?? null
    if (column.nullable) def.push(v === null ? 0 : 1)
    if (v !== null) values.push(convert(v))
  }
  return { values, def, rep, maxDef: column.nullable ? 1 : 0, maxRep: 0 }
}

const compareBytes = (a: Uint8Array, b: Uint8Array): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i]
  return a.length - b.length
}

/** Min, max (NaN skipped, signed zeros normalised as the format asks), null and NaN counts. */
const statisticsOf = (levels: Levels, isDouble: boolean) => {
  let min: number | Uint8Array | undefined
  let max: number | Uint8Array | undefined
  let nans = 0n
  for (const v of levels.values) {
    if (typeof v === "number") {
      if (Number.isNaN(v)) {
        nans++
        continue
      }
      if (min === undefined || v < (min as number)) min = v
      if (max === undefined || v > (max as number)) max = v
    } else {
      if (min === undefined || compareBytes(v, min as Uint8Array) < 0) min = v
      if (max === undefined || compareBytes(v, max as Uint8Array) > 0) max = v
    }
  }
  if (min === 0) min = -0
  if (max === 0) max = 0
  const nulls = levels.def.reduce((n, d) => (d === 0 && levels.maxDef > 0 ? n + 1n : n), 0n)
  return { min_value: min, max_value: max, null_count: nulls, ...(isDouble ? { nan_count: nans } : {}) }
}

const PHYSICAL = { "int32": "INT32", "double": "DOUBLE", "string": "BYTE_ARRAY", "list<double>": "DOUBLE" } as const

/** Levels as a v1 page carries them: RLE/bit-packed hybrid behind a 4-byte length. */
const appendLevels = (page: ByteWriter, levels: ReadonlyArray<number>, max: number) => {
  if (max === 0) return
  const rle = new ByteWriter()
  writeRleBitPackedHybrid(rle, levels as Array<number>, Math.ceil(Math.log2(max + 1)))
  page.appendUint32(rle.offset)
  page.appendBytes(rle.getBytes())
}

/**
 * Writes one column chunk as a single v1 data page (PLAIN values, RLE levels, the whole page
 * Snappy-compressed) at `out`'s end, which sits at `fileOffset` in the file.
 */
const writeColumnChunk = (out: ByteWriter, fileOffset: number, column: ResultColumn, rows: ReadonlyArray<DecompositionRow>): ColumnChunk => {
  const levels = levelsOf(column, rows)
  const type = PHYSICAL[column.parquet]
  const page = new ByteWriter()
  appendLevels(page, levels.rep, levels.maxRep)
  appendLevels(page, levels.def, levels.maxDef)
  writePlain(page, levels.values as DecodedArray, type, undefined)
  const body = page.getBytes()
  const compressed = snappyCompress(body)
  const start = out.offset
  const numValues = levels.maxDef > 0 ? levels.def.length : levels.values.length
  writePageHeader(out, {
    type: "DATA_PAGE",
    uncompressed_page_size: body.length,
    compressed_page_size: compressed.length,
    data_page_header: { num_values: numValues, encoding: "PLAIN", definition_level_encoding: "RLE", repetition_level_encoding: "RLE" }
  })
  const headerBytes = out.offset - start
  out.appendBytes(compressed)
  return {
    file_offset: BigInt(fileOffset + start),
    meta_data: {
      type,
      encodings: ["PLAIN", "RLE"],
      path_in_schema: column.parquet === "list<double>" ? [column.name, "list", "element"] : [column.name],
      codec: "SNAPPY",
      num_values: BigInt(numValues),
      total_uncompressed_size: BigInt(headerBytes + body.length),
      total_compressed_size: BigInt(out.offset - start),
      data_page_offset: BigInt(fileOffset + start),
      statistics: statisticsOf(levels, type === "DOUBLE"),
      encoding_stats: [{ page_type: "DATA_PAGE", encoding: "PLAIN", count: 1 }]
    }
  }
}

const MAGIC = 0x31524150 // "PAR1"

/**
 * A result file written a row group at a time, so a large part never sits whole in memory:
 * each call returns the bytes to append (the first also carries the file's leading magic),
 * `finish` the footer. The file is the concatenation, in order.
 *
 * @since 0.2.0
 * @category models
 */
export interface PartWriter {
  /** Encodes one row group of at most `ROW_GROUP_ROWS` rows (more are split). */
  readonly rowGroup: (rows: ReadonlyArray<DecompositionRow>) => Uint8Array
  /** The footer; the writer is done after it. */
  readonly finish: () => Uint8Array
  /** Rows written so far. */
  readonly rows: () => number
}

/**
 * Data pages are v1 (DATA_PAGE): the page kind every Parquet reader takes (older Spark and
 * Hive, Athena's engines), where hyparquet-writer only writes v2. Lists keep the standard
 * three-level LIST group. The file layer (thrift footer, Snappy) is hyparquet-writer's.
 *
 * @since 0.2.0
 * @category encoding
 */
export const makeWriter = (): PartWriter => {
  let offset = 0
  let rowCount = 0
  const groups: Array<RowGroup> = []
  const emit = (fill: (w: ByteWriter) => void): Uint8Array => {
    const w = new ByteWriter()
    if (offset === 0) w.appendUint32(MAGIC)
    fill(w)
    offset += w.offset
    return w.getBytes()
  }
  const oneGroup = (w: ByteWriter, rows: ReadonlyArray<DecompositionRow>) => {
    const base = offset
    const groupStart = w.offset
    const columns = RESULT_COLUMNS.map((column) => writeColumnChunk(w, base, column, rows))
    groups.push({
      columns,
      num_rows: BigInt(rows.length),
      total_byte_size: columns.reduce((n, c) => n + (c.meta_data?.total_uncompressed_size ?? 0n), 0n),
      total_compressed_size: BigInt(w.offset - groupStart),
      file_offset: BigInt(base + groupStart)
    })
    rowCount += rows.length
  }
  return {
    rowGroup: (rows) =>
      emit((w) => {
        for (let i = 0; i < rows.length; i += ROW_GROUP_ROWS) oneGroup(w, rows.slice(i, i + ROW_GROUP_ROWS))
      }),
    finish: () =>
      emit((w) => {
        const metadata: FileMetaData = {
          version: 1,
          created_by: CREATED_BY,
          schema: [...PARQUET_SCHEMA],
          num_rows: BigInt(rowCount),
          row_groups: groups,
          metadata_length: 0
        }
        // metadata_length is the reader's field, not serialised.
        const { metadata_length: _, ...written } = metadata
        writeMetadata(w, written as FileMetaData)
        w.appendUint32(MAGIC)
      }),
    rows: () => rowCount
  }
}

/**
 * Encodes rows as one Parquet file, in the given order (row groups of `ROW_GROUP_ROWS`).
 * Zero rows give a valid file with the schema and no row groups. The rows are assumed valid
 * (`DecompositionRow`): decode untrusted input with that schema first.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeRows = (rows: ReadonlyArray<DecompositionRow>): Uint8Array => {
  const writer = makeWriter()
  const pieces = [writer.rowGroup(rows), writer.finish()]
  const out = new Uint8Array(pieces[0].length + pieces[1].length)
  out.set(pieces[0], 0)
  out.set(pieces[1], pieces[0].length)
  return out
}

const decodeAll = Schema.decodeUnknown(Schema.Array(DecompositionRow))

const expectedNames = RESULT_COLUMNS.map((column) => column.name).join(", ")
/** Files written before the `refit` column (the last one) existed: read with `refit` absent. */
const namesBeforeRefit = RESULT_COLUMNS.filter((column) => column.name !== "refit").map((column) => column.name).join(", ")

/**
 * Decodes a result file back into rows, in file order, validating every row.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeRows = (bytes: Uint8Array): Effect.Effect<Array<DecompositionRow>, ResultDecodeError> =>
  Effect.gen(function*() {
    const file = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer
      ? bytes.buffer
      : bytes.slice().buffer
    const unreadable = (error: unknown) =>
      new ResultDecodeError({
        reason: `not a readable Parquet file: ${error instanceof Error ? error.message : String(error)}`
      })
    const metadata = yield* Effect.try({ try: () => parquetMetadata(file), catch: unreadable })
    const names = parquetSchema(metadata).children.map((child) => child.element.name).join(", ")
    if (names !== expectedNames && names !== namesBeforeRefit) {
      return yield* new ResultDecodeError({ reason: `columns (${names}) are not the result columns (${expectedNames})` })
    }
    const raw = yield* Effect.tryPromise({
      try: () => parquetReadObjects({ file, metadata, rowFormat: "object" }),
      catch: unreadable
    })
    // Rows that already are result rows are taken as they are; the schema says what is wrong with the others.
    if (raw.every(isResultRow)) return raw as Array<DecompositionRow>
    const rows = yield* Effect.mapError(
      decodeAll(raw),
      (error) => new ResultDecodeError({ reason: `invalid result row: ${ParseResult.TreeFormatter.formatErrorSync(error)}` })
    )
    return [...rows]
  })
