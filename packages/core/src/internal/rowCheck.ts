/**
 * A plain-code check that an object read from a result file is a `DecompositionRow` as it
 * stands (every field the row schema's type and range, no field missing), so a reader can
 * take the rows as they are and leave the schema (~20× slower per row) to say what is wrong
 * with a file that fails. Accepts exactly what decoding with `DecompositionRow` accepts
 * unchanged; anything else (a field absent that the schema defaults) is left to the schema.
 *
 * @since 0.2.0
 */
import { RESULT_COLUMNS, type ResultColumn } from "../ResultSchema.js"

const INT32_MIN = -2147483648
const INT32_MAX = 2147483647

/** Lower bound of each int32 column (the schema's refinements). */
const INT_MIN: Readonly<Record<string, number>> = { x: 0, y: 0, n_components: -1, nan_channels: 0 }

const isNumberList = (v: unknown): boolean => {
  if (!Array.isArray(v)) return false
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== "number") return false
  return true
}

const fits = (column: ResultColumn, v: unknown): boolean => {
  if (v === null) return column.nullable
  switch (column.parquet) {
    case "int32":
      return typeof v === "number" && Number.isSafeInteger(v) && v >= Math.max(INT32_MIN, INT_MIN[column.name] ?? INT32_MIN) && v <= INT32_MAX
    case "double":
      return typeof v === "number"
    case "string":
      return typeof v === "string"
    case "list<double>":
      return isNumberList(v)
  }
}

/** `refit`, the last column, may be absent (files written before it existed). */
const OPTIONAL = new Set<string>(["refit"])

/**
 * Whether `row` is a result row as it stands.
 *
 * @since 0.2.0
 */
export const isResultRow = (row: unknown): boolean => {
  if (typeof row !== "object" || row === null) return false
  const r = row as Record<string, unknown>
  for (const column of RESULT_COLUMNS) {
    const v = r[column.name]
    if (v === undefined) {
      if (OPTIONAL.has(column.name) && !(column.name in r)) continue
      return false
    }
    if (!fits(column, v)) return false
  }
  return true
}
