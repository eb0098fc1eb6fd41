/**
 * Columns of a result file straight into typed arrays: only the named columns' byte
 * ranges are read (the footer first, then one range per column chunk, through any ranged
 * byte source: a local blob or S3), and their pages are decoded into a `Float64Array` per
 * number column and offsets + values per list column, without building a row object.
 * `ResultParquet.decodeRows` is the validating reader of whole rows; this one is for maps
 * and lookups over large parts (docs/results.md), and reads the pages `makeWriter` writes
 * (v1 or v2 data pages, PLAIN values, any codec hyparquet knows). `decodeBatch` reads every
 * column of a file, checked as `decodeRows` checks rows, into a `RowBatch`: the catalog's
 * reader of chunk results.
 *
 * @since 0.3.0
 */
import { Effect } from "effect"
import { parquetMetadata } from "hyparquet"
import type { ColumnChunk, FileMetaData, SchemaTree } from "hyparquet"
import type { ColumnDecoder } from "hyparquet/src/types.js"
import { parquetHeader } from "hyparquet/src/column.js"
import { decompressPage, readDataPage, readDataPageV2 } from "hyparquet/src/datapage.js"
import { getSchemaPath } from "hyparquet/src/schema.js"
import { type ByteSource, fromBytes } from "./Fits.js"
import { columnsProblem, decodeRows, PHYSICAL, ResultDecodeError } from "./ResultParquet.js"
import { RESULT_COLUMNS, type ResultColumn } from "./ResultSchema.js"
import * as RowBatch from "./RowBatch.js"
import type { Column, ListColumn, NumberColumn, StringColumn } from "./RowBatch.js"

/**
 * The column shapes, defined with the batch they make up.
 *
 * @since 0.3.0
 * @category models
 */
export type { ListColumn, NumberColumn } from "./RowBatch.js"

/**
 * Columns read from one file, in file row order.
 *
 * @since 0.3.0
 * @category models
 */
export interface Columns {
  readonly rows: number
  readonly columns: ReadonlyMap<string, NumberColumn | ListColumn>
}

const byName = new Map(RESULT_COLUMNS.map((c) => [c.name as string, c]))

/** The result columns this reader can decode (not the string ones). */
export const isReadable = (name: string): boolean => {
  const c = byName.get(name)
  return c !== undefined && c.parquet !== "string"
}

const bad = (reason: string) => new ResultDecodeError({ reason })

const FOOTER = 8
const MAGIC = 0x31524150 // "PAR1"

/** The file's metadata, from two reads at its end. */
const readMetadata = <E>(src: ByteSource<E>) =>
  Effect.gen(function* () {
    if (src.size < 12) return yield* Effect.fail(bad(`not a readable Parquet file: ${src.size} bytes`))
    const tail = yield* src.read(src.size - FOOTER, FOOTER)
    const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength)
    if (tail.length < FOOTER || view.getUint32(4, true) !== MAGIC) return yield* Effect.fail(bad("not a readable Parquet file: no PAR1 footer"))
    const length = view.getUint32(0, true)
    if (length + FOOTER + 4 > src.size) return yield* Effect.fail(bad(`not a readable Parquet file: footer of ${length} bytes in a file of ${src.size}`))
    const footer = yield* src.read(src.size - FOOTER - length, length + FOOTER)
    return yield* Effect.try({
      try: () => parquetMetadata(footer),
      catch: (e) => bad(`not a readable Parquet file: ${e instanceof Error ? e.message : String(e)}`)
    })
  })

/** Levels and values of one column chunk's pages (numbers, or bytes for a string column). */
interface Decoded {
  readonly def: Array<ArrayLike<number>>
  readonly rep: Array<ArrayLike<number>>
  readonly values: Array<ArrayLike<unknown>>
}

const decodeChunk = (bytes: Uint8Array, decoder: ColumnDecoder): Decoded => {
  const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 }
  const out: Decoded = { def: [], rep: [], values: [] }
  while (reader.offset < bytes.byteLength - 1) {
    const header = parquetHeader(reader)
    const page = bytes.subarray(reader.offset, reader.offset + header.compressed_page_size)
    reader.offset += header.compressed_page_size
    let data
    if (header.type === "DATA_PAGE" && header.data_page_header !== undefined) {
      const raw = decompressPage(page, Number(header.uncompressed_page_size), decoder.codec, undefined)
      data = readDataPage(raw, header.data_page_header, decoder)
    } else if (header.type === "DATA_PAGE_V2") {
      data = readDataPageV2(page, header, decoder)
    } else if (header.type === "INDEX_PAGE") {
      continue
    } else {
      throw new Error(`${header.type} pages are not read by the columnar reader`)
    }
    out.def.push(data.definitionLevels ?? [])
    out.rep.push(data.repetitionLevels ?? [])
    out.values.push(data.dataPage)
  }
  return out
}

const numbersOf = (vals: ArrayLike<unknown>): ArrayLike<number> => {
  if (vals.length > 0 && typeof vals[0] !== "number") throw new Error("values are not numbers")
  return vals as ArrayLike<number>
}

/** Writes a flat column's pages into `values`/`nulls` from row `at`; returns the rows written. */
const fillNumbers = (d: Decoded, maxDef: number, col: { values: Float64Array; nulls: Uint8Array }, at: number): number => {
  let row = at
  d.values.forEach((page, p) => {
    const vals = numbersOf(page)
    const def = d.def[p]
    if (maxDef === 0 || def.length === 0) {
      for (let i = 0; i < vals.length; i++) col.values[row++] = vals[i]
      return
    }
    let v = 0
    for (let i = 0; i < def.length; i++, row++) {
      if (def[i] === maxDef) col.values[row] = vals[v++]
      else {
        col.values[row] = Number.NaN
        col.nulls[row] = 1
      }
    }
  })
  return row - at
}

/**
 * Writes a list column's pages (OPTIONAL list > REPEATED > REQUIRED element: def 0 a null
 * list, 1 an empty one, 2 an element; rep 0 starts a row) from row `at`; returns the rows
 * and values written.
 */
const fillList = (d: Decoded, offsets: Int32Array, nulls: Uint8Array, parts: Array<ArrayLike<number>>, at: number, base: number): { rows: number; values: number } => {
  let row = at - 1
  let count = base
  d.def.forEach((def, p) => {
    const rep = d.rep[p]
    const vals = numbersOf(d.values[p])
    let v = 0
    // hyparquet leaves the definition levels out when every one is the maximum
    const all = def.length === 0
    for (let i = 0; i < rep.length; i++) {
      const d = all ? 2 : def[i]
      if (rep[i] === 0) {
        row++
        offsets[row] = count
        if (d === 0) nulls[row] = 1
      }
      if (d === 2) {
        count++
        v++
      }
    }
    if (v !== vals.length) throw new Error("list levels and values disagree")
    parts.push(vals)
  })
  return { rows: row - at + 1, values: count - base }
}

/** What hyparquet gives a UTF8 column (a decoder that replaces malformed bytes, as `decodeRows` reads them). */
const utf8 = new TextDecoder()

const sameBytes = (a: Uint8Array, b: Uint8Array) => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Writes a string column's pages into `values` from row `at` (each distinct run of bytes decoded once). */
const fillStrings = (d: Decoded, maxDef: number, values: Array<string | null>, at: number): number => {
  let row = at
  let lastBytes: Uint8Array | undefined
  let last = ""
  const text = (bytes: unknown): string => {
    if (!(bytes instanceof Uint8Array)) throw new Error("values are not strings")
    if (lastBytes === undefined || !sameBytes(bytes, lastBytes)) {
      lastBytes = bytes
      last = utf8.decode(bytes)
    }
    return last
  }
  d.values.forEach((vals, p) => {
    const def = d.def[p]
    if (maxDef === 0 || def.length === 0) {
      for (let i = 0; i < vals.length; i++) values[row++] = text(vals[i])
      return
    }
    let v = 0
    for (let i = 0; i < def.length; i++, row++) values[row] = def[i] === maxDef ? text(vals[v++]) : null
  })
  return row - at
}

const concat = (parts: ReadonlyArray<ArrayLike<number>>, n: number): Float64Array => {
  const out = new Float64Array(n)
  let at = 0
  for (const p of parts) {
    if (p instanceof Float64Array) out.set(p, at)
    else for (let i = 0; i < p.length; i++) out[at + i] = p[i]
    at += p.length
  }
  return out
}

const absent = (column: ResultColumn, rows: number): Column => {
  switch (column.parquet) {
    case "list<double>":
      return { kind: "list", offsets: new Int32Array(rows + 1), values: new Float64Array(0), nulls: new Uint8Array(rows).fill(1) }
    case "string":
      return { kind: "string", values: new Array<string | null>(rows).fill(null) }
    default:
      return { kind: "number", values: new Float64Array(rows).fill(Number.NaN), nulls: new Uint8Array(rows).fill(1) }
  }
}

/** One result column of a file, in file row order; all null where the file lacks it. */
const readColumn = <E>(src: ByteSource<E>, metadata: FileMetaData, column: ResultColumn): Effect.Effect<Column, ResultDecodeError | E> =>
  Effect.gen(function* () {
    const rows = Number(metadata.num_rows)
    const name = column.name
    const fail = (e: unknown) => bad(`not a readable result file: ${e instanceof Error ? e.message : String(e)}`)
    const list = column.parquet === "list<double>"
    const path = list ? [name, "list", "element"] : [name]
    const chunks: Array<ColumnChunk> = []
    for (const g of metadata.row_groups) {
      const c = g.columns.find((c) => c.meta_data?.path_in_schema.join(".") === path.join("."))
      if (c !== undefined) chunks.push(c)
    }
    if (chunks.length === 0) return absent(column, rows)
    if (chunks.length !== metadata.row_groups.length) return yield* Effect.fail(bad(`column ${name} is missing from some row groups`))
    const schemaPath: Array<SchemaTree> = yield* Effect.try({ try: () => getSchemaPath(metadata.schema, path), catch: fail })
    const maxDef = schemaPath.slice(1).filter((s) => s.element.repetition_type !== "REQUIRED").length
    if (list && (maxDef !== 2 || schemaPath[2]?.element.repetition_type !== "REPEATED")) return yield* Effect.fail(bad(`column ${name} is not a list of required doubles`))
    const element = schemaPath[schemaPath.length - 1].element
    if (element.type !== PHYSICAL[column.parquet]) return yield* Effect.fail(bad(`column ${name} is ${element.type ?? "a group"}, not ${PHYSICAL[column.parquet]}`))
    const nulls = new Uint8Array(rows)
    const numbers = { values: new Float64Array(list || column.parquet === "string" ? 0 : rows), nulls }
    const strings = new Array<string | null>(column.parquet === "string" ? rows : 0)
    const offsets = new Int32Array(list ? rows + 1 : 0)
    const parts: Array<ArrayLike<number>> = []
    let row = 0
    let count = 0
    for (const [g, chunk] of chunks.entries()) {
      const meta = chunk.meta_data!
      const start = Number(meta.dictionary_page_offset ?? meta.data_page_offset)
      const bytes = yield* src.read(start, Number(meta.total_compressed_size))
      const decoder: ColumnDecoder = { pathInSchema: path, type: meta.type, element, schemaPath, codec: meta.codec, parsers: {} as ColumnDecoder["parsers"] }
      const groupRows = Number(metadata.row_groups[g].num_rows)
      const written = yield* Effect.try({
        try: () => {
          const d = decodeChunk(bytes, decoder)
          if (column.parquet === "string") return fillStrings(d, maxDef, strings, row)
          if (!list) return fillNumbers(d, maxDef, numbers, row)
          const r = fillList(d, offsets, nulls, parts, row, count)
          count += r.values
          return r.rows
        },
        catch: fail
      })
      if (written !== groupRows) return yield* Effect.fail(bad(`column ${name} has ${written} values in a row group of ${groupRows} rows`))
      row += groupRows
    }
    if (column.parquet === "string") return { kind: "string", values: strings } satisfies StringColumn
    if (!list) return { kind: "number", ...numbers } satisfies NumberColumn
    offsets[rows] = count
    return { kind: "list", offsets, values: concat(parts, count), nulls } satisfies ListColumn
  })

/**
 * Reads the named number and list columns of a result file. A column the file lacks (one
 * added to the schema after it was written) reads as all null.
 *
 * @since 0.3.0
 * @category decoding
 */
export const readColumns = <E>(
  src: ByteSource<E>,
  names: ReadonlyArray<string>,
  options: { readonly concurrency?: number } = {}
): Effect.Effect<Columns, ResultDecodeError | E> =>
  Effect.gen(function* () {
    for (const n of names) if (!isReadable(n)) return yield* Effect.fail(bad(`${n} is not a number or list column of the result table`))
    const metadata: FileMetaData = yield* readMetadata(src)
    const columns = new Map<string, NumberColumn | ListColumn>()
    yield* Effect.forEach(
      names,
      (name) => Effect.map(readColumn(src, metadata, byName.get(name)!), (c) => void columns.set(name, c as NumberColumn | ListColumn)),
      { concurrency: options.concurrency ?? 4, discard: true }
    )
    const result: Columns = { rows: Number(metadata.num_rows), columns }
    return result
  })

const INT32_MIN = -2147483648
/** Lower bound of each int32 column (the row schema's refinements). */
const INT_MIN: Readonly<Record<string, number>> = { x: 0, y: 0, n_components: -1, nan_channels: 0 }

/** The first row of `column` outside the row schema, as the reason, if any. */
const rowProblem = (column: ResultColumn, data: Column, rows: number): string | undefined => {
  const at = (i: number, what: string) => `invalid result row: row ${i}: ${column.name} ${what}`
  if (data.kind === "string") {
    if (!column.nullable) for (let i = 0; i < rows; i++) if (data.values[i] === null) return at(i, "is null")
    return undefined
  }
  if (!column.nullable) for (let i = 0; i < rows; i++) if (data.nulls[i] === 1) return at(i, "is null")
  if (data.kind === "number" && column.parquet === "int32") {
    const min = INT_MIN[column.name] ?? INT32_MIN
    for (let i = 0; i < rows; i++) if (data.nulls[i] === 0 && data.values[i] < min) return at(i, `is ${data.values[i]}, below ${min}`)
  }
  return undefined
}

/** Whether every column chunk is PLAIN values with RLE levels (what `makeWriter` writes). */
const plainOnly = (metadata: FileMetaData): boolean =>
  metadata.row_groups.every((g) =>
    g.columns.every((c) => c.meta_data !== undefined && c.meta_data.dictionary_page_offset === undefined && c.meta_data.encodings.every((e) => e === "PLAIN" || e === "RLE"))
  )

/**
 * Every result column of a file in memory as a `RowBatch`, refused (`ResultDecodeError`)
 * where `ResultParquet.decodeRows` refuses the file: not Parquet, other columns, or a value
 * outside the row schema (a null where the column is required, an int below its bound).
 *
 * @since 0.4.0
 * @category decoding
 */
export const decodeBatch = (bytes: Uint8Array): Effect.Effect<RowBatch.RowBatch, ResultDecodeError> =>
  Effect.gen(function* () {
    const src = fromBytes(bytes)
    const metadata: FileMetaData = yield* readMetadata(src)
    const problem = columnsProblem(metadata)
    if (problem !== undefined) return yield* Effect.fail(bad(problem))
    // Files of earlier writers (dictionary pages) are read as rows, then turned into columns.
    if (!plainOnly(metadata)) return RowBatch.fromRows(yield* decodeRows(bytes))
    const rows = Number(metadata.num_rows)
    const columns: Column[] = []
    for (const column of RESULT_COLUMNS) {
      const data = yield* readColumn(src, metadata, column)
      const wrong = rowProblem(column, data, rows)
      if (wrong !== undefined) return yield* Effect.fail(bad(wrong))
      columns.push(data)
    }
    const batch: RowBatch.RowBatch = { rows, columns }
    return batch
  })
