/**
 * Result rows to and from Parquet: v1 data pages, Snappy-compressed, lists as the standard
 * three-level LIST group (what Glue's `array<double>` and DuckDB's `DOUBLE[]` read), and the
 * same bytes for the same rows, so a rewritten file is recognisably unchanged. Files are
 * written a row group at a time (`makeWriter`), so a part's size does not bound memory, and
 * are encoded from columns (`RowBatch`): rows held as objects are turned into columns first,
 * so both give the same bytes.
 *
 * @since 0.1.0
 */
import { Effect, ParseResult, Schema } from "effect"
import { parquetMetadata, parquetReadObjects, parquetSchema } from "hyparquet"
import type { ColumnChunk, FileMetaData, RowGroup } from "hyparquet"
import { ByteWriter } from "hyparquet-writer"
import type { SchemaElement } from "hyparquet-writer"
import { writePageHeader } from "hyparquet-writer/src/datapage.js"
import { writeRleBitPackedHybrid } from "hyparquet-writer/src/encoding.js"
import { writeMetadata } from "hyparquet-writer/src/metadata.js"
import { snappyCompress } from "hyparquet-writer/src/snappy.js"
import { releaseBuffer, releaseWhole } from "./internal/release.js"
import { isResultRow } from "./internal/rowCheck.js"
import { DecompositionRow, RESULT_COLUMNS, type ResultColumn } from "./ResultSchema.js"
import * as RowBatch from "./RowBatch.js"
import type { Column, ListColumn, NumberColumn, StringColumn } from "./RowBatch.js"

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

const utf8 = new TextEncoder()

/** Min and max of a column chunk's values (NaN skipped), and its NaN count. */
interface Extremes {
  min: number | Uint8Array | undefined
  max: number | Uint8Array | undefined
  nans: number
}

const numberExtremes = (values: ArrayLike<number>, into: Extremes) => {
  let min = into.min as number | undefined
  let max = into.max as number | undefined
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (v !== v) into.nans++
    else {
      if (min === undefined || v < min) min = v
      if (max === undefined || v > max) max = v
    }
  }
  into.min = min
  into.max = max
}

const compareBytes = (a: Uint8Array, b: Uint8Array): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i]
  return a.length - b.length
}

/** A column chunk's statistics, signed zeros normalised as the format asks. */
const statisticsOf = (e: Extremes, nulls: number, isDouble: boolean) => {
  let { max, min } = e
  if (min === 0) min = -0
  if (max === 0) max = 0
  return { min_value: min, max_value: max, null_count: BigInt(nulls), ...(isDouble ? { nan_count: BigInt(e.nans) } : {}) }
}

/**
 * The Parquet physical type of each column type (a list's is its elements').
 *
 * @since 0.4.0
 * @category constants
 */
export const PHYSICAL = { "int32": "INT32", "double": "DOUBLE", "string": "BYTE_ARRAY", "list<double>": "DOUBLE" } as const

/** Levels as a v1 page carries them: RLE/bit-packed hybrid behind a 4-byte length. */
const appendLevels = (page: ByteWriter, levels: Uint8Array, max: number) => {
  const rle = new ByteWriter(64 + (levels.length >> 2))
  writeRleBitPackedHybrid(rle, levels, Math.ceil(Math.log2(max + 1)))
  page.appendUint32(rle.offset)
  page.appendBytes(rle.getBytes())
  releaseBuffer(rle.buffer)
  releaseWhole([levels])
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** PLAIN values are little-endian: the typed array's own bytes on a little-endian machine. */
const appendPlain = (page: ByteWriter, a: Float64Array | Int32Array) => {
  if (LITTLE_ENDIAN) page.appendBytes(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
  else if (a instanceof Float64Array) for (const v of a) page.appendFloat64(v)
  else for (const v of a) page.appendInt32(v)
}

/** A v1 page body of rows `[start, end)` of one column: levels, then PLAIN values. */
interface PageBody {
  readonly page: ByteWriter
  /** The page header's num_values: one per level, or per row of a required column. */
  readonly numValues: number
  readonly nulls: number
  readonly extremes: Extremes
}

const numberPage = (column: ResultColumn, data: NumberColumn, start: number, end: number): PageBody => {
  const n = end - start
  const extremes: Extremes = { min: undefined, max: undefined, nans: 0 }
  let values = data.values.subarray(start, end)
  // The page's own copy of the values (of the present ones), released once written.
  let owned: Float64Array | undefined
  let nulls = 0
  const page = new ByteWriter(16 + n * 8 + (n >> 2))
  if (column.nullable) {
    const def = new Uint8Array(n)
    for (let i = 0; i < n; i++) {
      if (data.nulls[start + i] === 0) def[i] = 1
      else nulls++
    }
    if (nulls > 0) {
      const present = new Float64Array(n - nulls)
      for (let i = 0, k = 0; i < n; i++) if (def[i] === 1) present[k++] = values[i]
      values = present
      owned = present
    }
    appendLevels(page, def, 1)
  }
  numberExtremes(values, extremes)
  if (column.parquet === "int32") {
    const ints = new Int32Array(values.length)
    for (let i = 0; i < values.length; i++) {
      const v = values[i]
      if ((v | 0) !== v) throw new Error(`parquet expected int32 value, got ${v} in ${column.name}`)
      ints[i] = v
    }
    appendPlain(page, ints)
    releaseWhole([ints])
  } else {
    appendPlain(page, values)
  }
  if (owned !== undefined) releaseWhole([owned])
  return { page, numValues: n, nulls, extremes }
}

/** OPTIONAL list (1) > REPEATED list (2) > REQUIRED element: a null list is def 0, an empty one def 1. */
const listPage = (data: ListColumn, start: number, end: number): PageBody => {
  const { offsets } = data
  let levels = 0
  for (let r = start; r < end; r++) levels += Math.max(1, offsets[r + 1] - offsets[r])
  const def = new Uint8Array(levels)
  const rep = new Uint8Array(levels)
  let nulls = 0
  let at = 0
  for (let r = start; r < end; r++) {
    const len = offsets[r + 1] - offsets[r]
    if (data.nulls[r] === 1) {
      nulls++
      at++
    } else if (len === 0) def[at++] = 1
    else {
      def.fill(2, at, at + len)
      rep.fill(1, at + 1, at + len)
      at += len
    }
  }
  const values = data.values.subarray(offsets[start], offsets[end])
  const extremes: Extremes = { min: undefined, max: undefined, nans: 0 }
  numberExtremes(values, extremes)
  const page = new ByteWriter(32 + values.length * 8 + (levels >> 1))
  appendLevels(page, rep, 1)
  appendLevels(page, def, 2)
  appendPlain(page, values)
  return { page, numValues: levels, nulls, extremes }
}

const stringPage = (column: ResultColumn, data: StringColumn, start: number, end: number): PageBody => {
  const n = end - start
  const extremes: Extremes = { min: undefined, max: undefined, nans: 0 }
  const page = new ByteWriter(64 + n * 8)
  const def = new Uint8Array(n)
  let nulls = 0
  // The string columns repeat one value (the run, the cube): encode each distinct run of values once.
  let last: string | null = null
  let lastBytes = new Uint8Array(0)
  const present: Uint8Array[] = []
  for (let i = 0; i < n; i++) {
    const v = data.values[start + i]
    if (v === null) {
      nulls++
      continue
    }
    def[i] = 1
    if (v !== last) {
      last = v
      lastBytes = utf8.encode(v)
      if (extremes.min === undefined || compareBytes(lastBytes, extremes.min as Uint8Array) < 0) extremes.min = lastBytes
      if (extremes.max === undefined || compareBytes(lastBytes, extremes.max as Uint8Array) > 0) extremes.max = lastBytes
    }
    present.push(lastBytes)
  }
  if (column.nullable) appendLevels(page, def, 1)
  else if (nulls > 0) throw new Error(`parquet expected a value in the required column ${column.name}`)
  for (const bytes of present) {
    page.appendUint32(bytes.length)
    page.appendBytes(bytes)
  }
  return { page, numValues: n, nulls: column.nullable ? nulls : 0, extremes }
}

/**
 * Writes one column chunk of rows `[start, end)` as a single v1 data page (PLAIN values,
 * RLE levels, the whole page Snappy-compressed) at `out`'s end, which sits at `fileOffset`
 * in the file.
 */
const writeColumnChunk = (out: ByteWriter, fileOffset: number, column: ResultColumn, data: Column, start: number, end: number): ColumnChunk => {
  const body = data.kind === "number" ? numberPage(column, data, start, end) : data.kind === "list" ? listPage(data, start, end) : stringPage(column, data, start, end)
  const type = PHYSICAL[column.parquet]
  const bytes = body.page.getBytes()
  const compressed = snappyCompress(bytes)
  const chunkStart = out.offset
  writePageHeader(out, {
    type: "DATA_PAGE",
    uncompressed_page_size: bytes.length,
    compressed_page_size: compressed.length,
    data_page_header: { num_values: body.numValues, encoding: "PLAIN", definition_level_encoding: "RLE", repetition_level_encoding: "RLE" }
  })
  const headerBytes = out.offset - chunkStart
  out.appendBytes(compressed)
  const uncompressed = bytes.length
  releaseBuffer(compressed.buffer)
  releaseBuffer(body.page.buffer)
  return {
    file_offset: BigInt(fileOffset + chunkStart),
    meta_data: {
      type,
      encodings: ["PLAIN", "RLE"],
      path_in_schema: column.parquet === "list<double>" ? [column.name, "list", "element"] : [column.name],
      codec: "SNAPPY",
      num_values: BigInt(body.numValues),
      total_uncompressed_size: BigInt(headerBytes + uncompressed),
      total_compressed_size: BigInt(out.offset - chunkStart),
      data_page_offset: BigInt(fileOffset + chunkStart),
      statistics: statisticsOf(body.extremes, body.nulls, type === "DOUBLE"),
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
  /** The same for rows held as columns: the same rows give the same bytes either way. */
  readonly batch: (batch: RowBatch.RowBatch) => Uint8Array
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
  const oneGroup = (w: ByteWriter, batch: RowBatch.RowBatch, start: number, end: number) => {
    const base = offset
    const groupStart = w.offset
    const columns = RESULT_COLUMNS.map((column, c) => writeColumnChunk(w, base, column, batch.columns[c], start, end))
    groups.push({
      columns,
      num_rows: BigInt(end - start),
      total_byte_size: columns.reduce((n, c) => n + (c.meta_data?.total_uncompressed_size ?? 0n), 0n),
      total_compressed_size: BigInt(w.offset - groupStart),
      file_offset: BigInt(base + groupStart)
    })
    rowCount += end - start
  }
  const batch = (b: RowBatch.RowBatch) =>
    emit((w) => {
      if (b.columns.length !== RESULT_COLUMNS.length) throw new Error(`a batch of ${b.columns.length} columns for ${RESULT_COLUMNS.length} result columns`)
      for (let i = 0; i < b.rows; i += ROW_GROUP_ROWS) oneGroup(w, b, i, Math.min(b.rows, i + ROW_GROUP_ROWS))
    })
  return {
    rowGroup: (rows) => batch(RowBatch.fromRows(rows)),
    batch,
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
export const encodeRows = (rows: ReadonlyArray<DecompositionRow>): Uint8Array => encodeBatch(RowBatch.fromRows(rows))

/**
 * Encodes rows held as columns as one Parquet file: the bytes `encodeRows` makes of the same
 * rows.
 *
 * @since 0.4.0
 * @category encoding
 */
export const encodeBatch = (batch: RowBatch.RowBatch): Uint8Array => {
  const writer = makeWriter()
  const pieces = [writer.batch(batch), writer.finish()]
  const out = new Uint8Array(pieces[0].length + pieces[1].length)
  out.set(pieces[0], 0)
  out.set(pieces[1], pieces[0].length)
  for (const piece of pieces) releaseBuffer(piece.buffer)
  return out
}

const decodeAll = Schema.decodeUnknown(Schema.Array(DecompositionRow))

const expectedNames = RESULT_COLUMNS.map((column) => column.name).join(", ")
/** Files written before the `refit` column (the last one) existed: read with `refit` absent. */
const namesBeforeRefit = RESULT_COLUMNS.filter((column) => column.name !== "refit").map((column) => column.name).join(", ")

/**
 * What makes a file's columns not the result columns, if anything (a file written before
 * `refit` existed is a result file without it).
 *
 * @since 0.4.0
 * @category decoding
 */
export const columnsProblem = (metadata: FileMetaData): string | undefined => {
  const names = parquetSchema(metadata).children.map((child) => child.element.name).join(", ")
  return names === expectedNames || names === namesBeforeRefit ? undefined : `columns (${names}) are not the result columns (${expectedNames})`
}

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
    const problem = columnsProblem(metadata)
    if (problem !== undefined) return yield* new ResultDecodeError({ reason: problem })
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
