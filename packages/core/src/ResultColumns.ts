/**
 * Columns of a result file straight into typed arrays: only the named columns' byte
 * ranges are read (the footer first, then one range per column chunk, through any ranged
 * byte source: a local blob or S3), and their pages are decoded into a `Float64Array` per
 * number column and offsets + values per list column, without building a row object.
 * `ResultParquet.decodeRows` is the validating reader of whole rows; this one is for maps
 * and lookups over large parts (docs/results.md), and reads the pages `makeWriter` writes
 * (v1 or v2 data pages, PLAIN values, any codec hyparquet knows).
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
import type { ByteSource } from "./Fits.js"
import { ResultDecodeError } from "./ResultParquet.js"
import { RESULT_COLUMNS } from "./ResultSchema.js"

/**
 * A number column (int32 or double): one value per row, NaN where null; `nulls[i]` is 1
 * where the row's value is null (all 0 for a required column, all 1 for a column the file
 * lacks).
 *
 * @since 0.3.0
 * @category models
 */
export interface NumberColumn {
  readonly kind: "number"
  readonly values: Float64Array
  readonly nulls: Uint8Array
}

/**
 * A list column: row i's list is `values[offsets[i] .. offsets[i + 1])`; `nulls[i]` is 1
 * where the list itself is null (then it is empty).
 *
 * @since 0.3.0
 * @category models
 */
export interface ListColumn {
  readonly kind: "list"
  readonly offsets: Int32Array
  readonly values: Float64Array
  readonly nulls: Uint8Array
}

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

/** Levels and values of one column chunk's pages. */
interface Decoded {
  readonly def: Array<ArrayLike<number>>
  readonly rep: Array<ArrayLike<number>>
  readonly values: Array<ArrayLike<number>>
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
    if (data.dataPage.length > 0 && typeof data.dataPage[0] !== "number") throw new Error("values are not numbers")
    out.def.push(data.definitionLevels ?? [])
    out.rep.push(data.repetitionLevels ?? [])
    out.values.push(data.dataPage as ArrayLike<number>)
  }
  return out
}

/** Writes a flat column's pages into `values`/`nulls` from row `at`; returns the rows written. */
const fillNumbers = (d: Decoded, maxDef: number, col: { values: Float64Array; nulls: Uint8Array }, at: number): number => {
  let row = at
  d.values.forEach((vals, p) => {
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
    const vals = d.values[p]
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
    const rows = Number(metadata.num_rows)
    const columns = new Map<string, NumberColumn | ListColumn>()
    const fail = (e: unknown) => bad(`not a readable result file: ${e instanceof Error ? e.message : String(e)}`)
    yield* Effect.forEach(
      names,
      (name) =>
        Effect.gen(function* () {
          const column = byName.get(name)!
          const list = column.parquet === "list<double>"
          const path = list ? [name, "list", "element"] : [name]
          const chunks: Array<ColumnChunk> = []
          for (const g of metadata.row_groups) {
            const c = g.columns.find((c) => c.meta_data?.path_in_schema.join(".") === path.join("."))
            if (c !== undefined) chunks.push(c)
          }
          const nulls = new Uint8Array(rows)
          if (chunks.length === 0) {
            nulls.fill(1)
            columns.set(name, list ? { kind: "list", offsets: new Int32Array(rows + 1), values: new Float64Array(0), nulls } : { kind: "number", values: new Float64Array(rows).fill(Number.NaN), nulls })
            return
          }
          if (chunks.length !== metadata.row_groups.length) return yield* Effect.fail(bad(`column ${name} is missing from some row groups`))
          const schemaPath: Array<SchemaTree> = yield* Effect.try({ try: () => getSchemaPath(metadata.schema, path), catch: fail })
          const maxDef = schemaPath.slice(1).filter((s) => s.element.repetition_type !== "REQUIRED").length
          if (list && (maxDef !== 2 || schemaPath[2]?.element.repetition_type !== "REPEATED")) return yield* Effect.fail(bad(`column ${name} is not a list of required doubles`))
          const element = schemaPath[schemaPath.length - 1].element
          const numbers = { values: new Float64Array(list ? 0 : rows), nulls }
          const offsets = new Int32Array(rows + 1)
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
          offsets[rows] = count
          columns.set(name, list ? { kind: "list", offsets, values: concat(parts, count), nulls } : { kind: "number", ...numbers })
        }),
      { concurrency: options.concurrency ?? 4, discard: true }
    )
    const result: Columns = { rows, columns }
    return result
  })
