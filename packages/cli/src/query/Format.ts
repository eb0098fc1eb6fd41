/**
 * Query results as text: an aligned table for people, RFC 4180 CSV, JSON and NDJSON for
 * programs. Each format is a `Formatter` that turns rows into text a batch at a time, so a
 * result of any size is written as it is read (ResultWriter.ts); `render` is the whole text.
 */
import type { QueryResult, Rows, SqlValue } from "./SqlEngine.js"

export const FORMATS = ["table", "csv", "json", "ndjson"] as const
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
 * Text for one result, a batch of rows at a time: `head`, then `rows` per batch in order, then
 * `end`. One formatter per result (json remembers whether a row came already).
 */
export interface Formatter {
  readonly head: string
  readonly rows: (rows: Rows) => string
  /** The text after the last row, given how many rows there were. */
  readonly end: (count: number) => string
}

/**
 * The aligned table sizes its columns on the first rows of a result, this many at most: a
 * longer value further down widens its own line only.
 */
export const TABLE_SAMPLE_ROWS = 1000

/**
 * An aligned table: a header, a rule, one line per row, then `(N rows)`. Column widths fit the
 * header and the `sample` rows; columns whose sample values are all numbers (or NULL) are
 * right-aligned.
 */
const tableFormatter = (columns: ReadonlyArray<string>, sample: Rows): Formatter => {
  const widths = columns.map((c) => c.length)
  for (const r of sample) for (let i = 0; i < columns.length; i++) widths[i] = Math.max(widths[i], text(r[i]).length)
  const numeric = columns.map((_, i) => sample.some((r) => r[i] !== null) && sample.every((r) => r[i] === null || isNumeric(r[i])))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd()
  return {
    head: `${line(columns)}\n${widths.map((w) => "-".repeat(w)).join("  ")}\n`,
    rows: (rows) => rows.map((r) => `${line(r.map(text))}\n`).join(""),
    end: (count) => `(${count} row${count === 1 ? "" : "s"})\n`
  }
}

/** An aligned table (see `tableFormatter`), sized on every row; no final newline. */
export const table = (result: QueryResult): string => render(result, "table")

const csvField = (s: string): string => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s)

const csvRecord = (r: ReadonlyArray<string>) => `${r.map(csvField).join(",")}\r\n`

/** RFC 4180: a header record, CRLF line breaks, fields quoted when they need it; NULL is empty. */
const csvFormatter = (columns: ReadonlyArray<string>): Formatter => ({
  head: csvRecord(columns),
  rows: (rows) => rows.map((r) => csvRecord(r.map((v) => (v === null ? "" : text(v))))).join(""),
  end: () => ""
})

/** RFC 4180 CSV (see `csvFormatter`). */
export const csv = (result: QueryResult): string => render(result, "csv")

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

const jsonObject = (names: ReadonlyArray<string>, r: ReadonlyArray<SqlValue>) =>
  JSON.stringify(Object.fromEntries(names.map((n, i) => [n, jsonValue(r[i])])))

/** A JSON array of objects, one per row and line; `[]` for no rows. */
const jsonFormatter = (columns: ReadonlyArray<string>): Formatter => {
  const names = uniqueNames(columns)
  let first = true
  return {
    head: "",
    rows: (rows) =>
      rows
        .map((r) => {
          const lead = first ? "[\n  " : ",\n  "
          first = false
          return lead + jsonObject(names, r)
        })
        .join(""),
    end: (count) => (count === 0 ? "[]\n" : "\n]\n")
  }
}

/** A JSON array of objects (see `jsonFormatter`); no final newline. */
export const json = (result: QueryResult): string => render(result, "json")

/** Newline-delimited JSON: one object per row, one per line, nothing else. */
const ndjsonFormatter = (columns: ReadonlyArray<string>): Formatter => {
  const names = uniqueNames(columns)
  return { head: "", rows: (rows) => rows.map((r) => `${jsonObject(names, r)}\n`).join(""), end: () => "" }
}

/** The formatter of a result's text; `sample` is its first rows (the table sizes its columns on them). */
export const formatter = (format: Format, columns: ReadonlyArray<string>, sample: Rows): Formatter => {
  switch (format) {
    case "table":
      return tableFormatter(columns, sample)
    case "csv":
      return csvFormatter(columns)
    case "json":
      return jsonFormatter(columns)
    case "ndjson":
      return ndjsonFormatter(columns)
  }
}

/** The whole result in a format, without a final newline for table and json. */
export const render = (result: QueryResult, format: Format): string => {
  const f = formatter(format, result.columns, result.rows)
  const out = f.head + f.rows(result.rows) + f.end(result.rows.length)
  return format === "table" || format === "json" ? out.slice(0, -1) : out
}
