/**
 * Query results as text: an aligned table for people, RFC 4180 CSV and JSON for programs.
 */
import type { QueryResult, SqlValue } from "./SqlEngine.js"

export const FORMATS = ["table", "csv", "json"] as const
export type Format = (typeof FORMATS)[number]

const isRecord = (v: SqlValue): v is { readonly [field: string]: SqlValue } =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Map)

/** A number as text: the shortest text that reads back as the same double. */
const numberText = (n: number): string => (Object.is(n, -0) ? "0" : String(n))

/**
 * A value as display text: `NULL`, numbers as written, arrays `[1.2, 3.4]`, maps
 * `{key=value, …}` and rows `{field=value, …}` (as Athena shows them).
 */
export const text = (v: SqlValue): string => {
  if (v === null) return "NULL"
  if (typeof v === "number") return numberText(v)
  if (typeof v === "bigint" || typeof v === "boolean") return String(v)
  if (typeof v === "string") return v
  if (Array.isArray(v)) return `[${v.map(text).join(", ")}]`
  if (v instanceof Map) return `{${[...v].map(([k, x]) => `${text(k)}=${text(x)}`).join(", ")}}`
  if (isRecord(v)) return `{${Object.entries(v).map(([k, x]) => `${k}=${text(x)}`).join(", ")}}`
  return String(v)
}

const isNumeric = (v: SqlValue) => typeof v === "number" || typeof v === "bigint"

/**
 * An aligned table: a header, a rule, one line per row, then `(N rows)`. Columns whose
 * values are all numbers (or NULL) are right-aligned.
 */
export const table = (result: QueryResult): string => {
  const { columns, rows } = result
  const cells = rows.map((r) => r.map(text))
  const numeric = columns.map((_, i) => rows.some((r) => r[i] !== null) && rows.every((r) => r[i] === null || isNumeric(r[i])))
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)))
  const line = (r: ReadonlyArray<string>, alignRight: boolean) =>
    r.map((c, i) => (alignRight && numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd()
  const header = columns.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd()
  const rule = widths.map((w) => "-".repeat(w)).join("  ")
  const footer = `(${rows.length} row${rows.length === 1 ? "" : "s"})`
  return [header, rule, ...cells.map((r) => line(r, true)), footer].join("\n")
}

const csvField = (s: string): string => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s)

/** RFC 4180: a header record, CRLF line breaks, fields quoted when they need it; NULL is empty. */
export const csv = (result: QueryResult): string =>
  [result.columns, ...result.rows.map((r) => r.map((v) => (v === null ? "" : text(v))))]
    .map((r) => `${r.map(csvField).join(",")}\r\n`)
    .join("")

/**
 * A value as JSON-ready data: BIGINT as a number when it is exactly representable, else as
 * a string; NaN and ±Infinity as the strings "NaN", "Infinity", "-Infinity"; maps as
 * objects keyed by the key's text.
 */
export const jsonValue = (v: SqlValue): unknown => {
  if (typeof v === "bigint") return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()
  if (typeof v === "number") return Number.isFinite(v) ? v : String(v)
  if (Array.isArray(v)) return v.map(jsonValue)
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [text(k), jsonValue(x)]))
  if (v !== null && isRecord(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonValue(x)]))
  return v
}

/** Column names made unique (a repeated name gets `_2`, `_3`, …) to key JSON objects. */
export const uniqueNames = (columns: ReadonlyArray<string>): string[] => {
  const seen = new Map<string, number>()
  return columns.map((c) => {
    const n = (seen.get(c) ?? 0) + 1
    seen.set(c, n)
    return n === 1 ? c : `${c}_${n}`
  })
}

/** A JSON array of objects, one per row (one row per line). */
export const json = (result: QueryResult): string => {
  const names = uniqueNames(result.columns)
  if (result.rows.length === 0) return "[]"
  const objects = result.rows.map((r) => JSON.stringify(Object.fromEntries(names.map((n, i) => [n, jsonValue(r[i])]))))
  return `[\n${objects.map((o) => `  ${o}`).join(",\n")}\n]`
}

/** The result in a format, without a final newline for table and json. */
export const render = (result: QueryResult, format: Format): string =>
  format === "csv" ? csv(result) : format === "json" ? json(result) : table(result)
