/**
 * Result rows to and from Parquet: Snappy-compressed, lists as the standard three-level
 * LIST group (what Glue's `array<double>` and DuckDB's `DOUBLE[]` read), and the same
 * bytes for the same rows, so a rewritten file is recognisably unchanged.
 *
 * @since 0.1.0
 */
import { Effect, ParseResult, Schema } from "effect"
import { parquetMetadata, parquetReadObjects, parquetSchema } from "hyparquet"
import { ByteWriter, parquetWrite } from "hyparquet-writer"
import type { SchemaElement } from "hyparquet-writer"
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

/**
 * Encodes rows as one Parquet file, in the given order. Zero rows give a valid file with
 * the schema and no row groups. The rows are assumed valid (`DecompositionRow`): decode
 * untrusted input with that schema first.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeRows = (rows: ReadonlyArray<DecompositionRow>): Uint8Array => {
  const writer = new ByteWriter()
  parquetWrite({
    writer,
    schema: [...PARQUET_SCHEMA],
    columnData: RESULT_COLUMNS.map((column) => ({ name: column.name, data: rows.map((row) => row[column.name]) })),
    codec: "SNAPPY",
    rowGroupSize: ROW_GROUP_ROWS,
    createdBy: CREATED_BY
  })
  return writer.getBytes()
}

const decodeAll = Schema.decodeUnknown(Schema.Array(DecompositionRow))

const expectedNames = RESULT_COLUMNS.map((column) => column.name).join(", ")

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
    if (names !== expectedNames) {
      return yield* new ResultDecodeError({ reason: `columns (${names}) are not the result columns (${expectedNames})` })
    }
    const raw = yield* Effect.tryPromise({
      try: () => parquetReadObjects({ file, metadata, rowFormat: "object" }),
      catch: unreadable
    })
    const rows = yield* Effect.mapError(
      decodeAll(raw),
      (error) => new ResultDecodeError({ reason: `invalid result row: ${ParseResult.TreeFormatter.formatErrorSync(error)}` })
    )
    return [...rows]
  })
