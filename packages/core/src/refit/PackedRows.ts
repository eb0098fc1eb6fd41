/**
 * Result rows packed into a few typed arrays, column by column of `RESULT_COLUMNS`: what
 * crosses to and from a refit worker thread. Structured clone of a chunk's ~1,400 row objects
 * (its rows and halo) costs the main thread milliseconds per chunk and pass; packing them is
 * a loop over numbers, and the arrays' buffers are transferred, not copied
 * (`npm run bench:refit-transfer` prints both).
 *
 * Lossless for every column: numbers as float64 (so -0, NaN and every int32 exactly), null
 * and an absent key told apart, strings through a dictionary. A key that is not a column is
 * not carried (nor is it ever written to a result file).
 *
 * @since 0.3.0
 */
import { type DecompositionRow, RESULT_COLUMNS } from "../ResultSchema.js"

/**
 * @since 0.3.0
 * @category models
 */
export interface PackedRows {
  readonly count: number
  /** count × scalar columns (int32, double): the value, or 0 where `scalarState` says none */
  readonly scalars: Float64Array
  /** count × scalar columns: 0 a number, 1 null, 2 absent */
  readonly scalarState: Uint8Array
  /** count × list columns: the list's length; −1 null, −2 absent */
  readonly listLengths: Int32Array
  /** every list's values, row by row, column by column */
  readonly listValues: Float64Array
  /** count × string columns: an index into `dictionary`; −1 null, −2 absent */
  readonly strings: Int32Array
  readonly dictionary: ReadonlyArray<string>
}

const NULL = -1
const ABSENT = -2

const names = (kind: (c: (typeof RESULT_COLUMNS)[number]) => boolean) => RESULT_COLUMNS.filter(kind).map((c) => c.name)
const SCALARS = names((c) => c.parquet === "int32" || c.parquet === "double")
const LISTS = names((c) => c.parquet === "list<double>")
const STRINGS = names((c) => c.parquet === "string")
/** Each column's kind and place within its kind, in file order (a row's lists follow it too). */
const PLAN = RESULT_COLUMNS.map(({ name, parquet }) =>
  parquet === "list<double>"
    ? { name, kind: "list" as const, slot: LISTS.indexOf(name) }
    : parquet === "string"
      ? { name, kind: "string" as const, slot: STRINGS.indexOf(name) }
      : { name, kind: "scalar" as const, slot: SCALARS.indexOf(name) }
)

/**
 * The typed arrays' buffers, to transfer with the message.
 *
 * @since 0.3.0
 * @category utils
 */
export const buffersOf = (p: PackedRows): Array<ArrayBuffer> =>
  [p.scalars, p.scalarState, p.listLengths, p.listValues, p.strings].map((a) => a.buffer as ArrayBuffer)

/**
 * @since 0.3.0
 * @category constructors
 */
export const pack = (rows: ReadonlyArray<DecompositionRow>): PackedRows => {
  const count = rows.length
  const scalars = new Float64Array(count * SCALARS.length)
  const scalarState = new Uint8Array(count * SCALARS.length)
  const listLengths = new Int32Array(count * LISTS.length)
  const strings = new Int32Array(count * STRINGS.length)
  const dictionary: Array<string> = []
  const index = new Map<string, number>()
  let values = 0
  rows.forEach((row, r) => {
    const fields = row as unknown as Readonly<Record<string, unknown>>
    SCALARS.forEach((name, c) => {
      const v = fields[name]
      const at = r * SCALARS.length + c
      if (typeof v === "number") scalars[at] = v
      else scalarState[at] = v === null ? 1 : 2
    })
    LISTS.forEach((name, c) => {
      const v = fields[name]
      const n = Array.isArray(v) ? v.length : v === null ? NULL : ABSENT
      listLengths[r * LISTS.length + c] = n
      if (n > 0) values += n
    })
    STRINGS.forEach((name, c) => {
      const v = fields[name]
      let code = v === null ? NULL : ABSENT
      if (typeof v === "string") {
        code = index.get(v) ?? dictionary.length
        if (code === dictionary.length) {
          index.set(v, code)
          dictionary.push(v)
        }
      }
      strings[r * STRINGS.length + c] = code
    })
  })
  const listValues = new Float64Array(values)
  let at = 0
  for (const row of rows) {
    const fields = row as unknown as Readonly<Record<string, unknown>>
    for (const name of LISTS) {
      const v = fields[name]
      if (Array.isArray(v)) for (const x of v as ReadonlyArray<number>) listValues[at++] = x
    }
  }
  return { count, scalars, scalarState, listLengths, listValues, strings, dictionary }
}

/**
 * The rows back, each with the columns' keys in `RESULT_COLUMNS` order (an absent one left out).
 *
 * @since 0.3.0
 * @category constructors
 */
export const unpack = (p: PackedRows): Array<DecompositionRow> => {
  const rows: Array<DecompositionRow> = []
  let at = 0
  for (let r = 0; r < p.count; r++) {
    const row: Record<string, unknown> = {}
    for (const { name, kind, slot } of PLAN) {
      if (kind === "scalar") {
        const state = p.scalarState[r * SCALARS.length + slot]
        if (state !== 2) row[name] = state === 1 ? null : p.scalars[r * SCALARS.length + slot]
      } else if (kind === "list") {
        const n = p.listLengths[r * LISTS.length + slot]
        if (n === NULL) row[name] = null
        else if (n >= 0) {
          const list = new Array<number>(n)
          for (let i = 0; i < n; i++) list[i] = p.listValues[at + i]
          row[name] = list
          at += n
        }
      } else {
        const code = p.strings[r * STRINGS.length + slot]
        if (code !== ABSENT) row[name] = code === NULL ? null : p.dictionary[code]
      }
    }
    // every column of the schema was packed from a row of it
    rows.push(row as unknown as DecompositionRow)
  }
  return rows
}
