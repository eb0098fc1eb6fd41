/**
 * The local SQL engine: an in-memory DuckDB in which Athena SQL over the result table
 * runs unchanged.
 *
 * - Catalog `awsdatacatalog` (Athena's default catalog name), schema `phspectra`, view
 *   `phspectra.decompositions` over the workdir's Hive-partitioned Parquet files
 *   (`blobs/decompositions/survey=*\/*.parquet`, `survey` typed VARCHAR whatever its value
 *   looks like). With no files yet, the view is empty with the same columns.
 * - Search path `athena, phspectra, main`: `decompositions` resolves unqualified, and the
 *   Athena functions DuckDB lacks (Athena.ts) are macros in `athena`, ahead of DuckDB's own.
 * - `integer_division`: `/` of two integers is integer division, as in Athena.
 * - Time zone UTC, as in Athena.
 * - Before running, Athena.rewrite handles the syntax macros cannot (multi-array UNNEST,
 *   lambda functions).
 */
import {
  DuckDBArrayValue,
  DuckDBDecimalValue,
  DuckDBInstance,
  DuckDBListValue,
  DuckDBMapValue,
  DuckDBStructValue,
  DuckDBUnionValue,
  type DuckDBConnection,
  type DuckDBValue
} from "@duckdb/node-api"
import { Errors, ResultSchema } from "@phs/core"
import { RuntimeLocal } from "@phs/runtime-local"
import { Effect, type Scope } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Athena from "./Athena.js"
import type { QueryResult, SqlEngine, SqlValue } from "./SqlEngine.js"

/** Athena's default data catalog; `awsdatacatalog.phspectra.decompositions` resolves too. */
export const CATALOG = "awsdatacatalog"

const { database, table, prefix, partitionColumn } = ResultSchema.RESULT_TABLE

/** The directory holding the table's partitions in a workdir. */
export const tableRoot = (workdir: string): string => path.join(path.resolve(RuntimeLocal.blobRoot(workdir)), prefix)

/** The result files of a workdir (`survey=*\/*.parquet`), sorted. */
export const resultFiles = (workdir: string): string[] => {
  const root = tableRoot(workdir)
  const dirs = fs.existsSync(root) ? fs.readdirSync(root, { withFileTypes: true }) : []
  return dirs
    .filter((d) => d.isDirectory() && d.name.startsWith(`${partitionColumn.name}=`))
    .flatMap((d) =>
      fs
        .readdirSync(path.join(root, d.name))
        .filter((f) => f.endsWith(".parquet") && !f.startsWith("."))
        .map((f) => path.join(root, d.name, f))
    )
    .sort()
}

const literal = (s: string): string => `'${s.replace(/'/g, "''")}'`
const ident = (s: string): string => `"${s.replace(/"/g, '""')}"`

/** The columns of the table in order: the file columns, then the partition column. */
export const TABLE_COLUMNS: ReadonlyArray<{ readonly name: string; readonly duckdb: string }> = [
  ...ResultSchema.RESULT_COLUMNS.map((c) => ({ name: c.name, duckdb: c.duckdb })),
  { name: partitionColumn.name, duckdb: partitionColumn.duckdb }
]

/** The SQL that sets up a connection for a workdir (`withFiles`: whether there are result files). */
export const setupStatements = (workdir: string, withFiles: boolean): string[] => {
  const columns = TABLE_COLUMNS.map((c) => ident(c.name)).join(", ")
  const source = withFiles
    ? `SELECT ${columns} FROM read_parquet(${literal(path.join(tableRoot(workdir), `${partitionColumn.name}=*`, "*.parquet"))}, ` +
      `hive_partitioning = true, hive_types = {${literal(partitionColumn.name)}: ${partitionColumn.duckdb}}, hive_types_autocast = false)`
    : `SELECT ${TABLE_COLUMNS.map((c) => `CAST(NULL AS ${c.duckdb}) AS ${ident(c.name)}`).join(", ")} WHERE false`
  return [
    `ATTACH ':memory:' AS ${CATALOG}`,
    `USE ${CATALOG}`,
    `CREATE SCHEMA ${database}`,
    `CREATE SCHEMA ${Athena.MACRO_SCHEMA}`,
    `CREATE VIEW ${database}.${table} AS ${source}`,
    ...Athena.macroStatements(),
    `SET search_path = ${literal(`${Athena.MACRO_SCHEMA},${database},main`)}`,
    `SET integer_division = true`,
    `SET TimeZone = 'UTC'`
  ]
}

/** A DuckDB value as an engine-neutral `SqlValue`. */
export const toSqlValue = (v: DuckDBValue): SqlValue => {
  if (v === null || typeof v === "boolean" || typeof v === "number" || typeof v === "bigint" || typeof v === "string") return v
  if (v instanceof DuckDBListValue || v instanceof DuckDBArrayValue) return v.items.map(toSqlValue)
  if (v instanceof DuckDBStructValue) {
    const out: Record<string, SqlValue> = {}
    for (const [k, x] of Object.entries(v.entries)) out[k] = toSqlValue(x)
    return out
  }
  if (v instanceof DuckDBMapValue) return new Map(v.entries.map((e) => [toSqlValue(e.key), toSqlValue(e.value)]))
  if (v instanceof DuckDBDecimalValue) return v.toDouble()
  if (v instanceof DuckDBUnionValue) return toSqlValue(v.value)
  return String(v)
}

/** The first line of an error, as the one line a user sees. */
export const firstLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split("\n")[0].trim()

const exec = (connection: DuckDBConnection, sql: string): Effect.Effect<QueryResult, Errors.InvalidInput> =>
  Effect.tryPromise({
    try: async () => {
      const reader = await connection.runAndReadAll(sql)
      return { columns: reader.columnNames(), rows: reader.getRows().map((row) => row.map(toSqlValue)) }
    },
    catch: (e) => new Errors.InvalidInput({ reason: firstLine(e) })
  })

export interface LocalSql {
  readonly engine: SqlEngine
  /** Result files the view reads (0: the table is empty). */
  readonly files: number
}

/** An engine over a workdir's result table, closed with the scope. */
export const make = (workdir: string): Effect.Effect<LocalSql, Errors.InvalidInput, Scope.Scope> =>
  Effect.gen(function* () {
    const files = resultFiles(workdir).length
    const instance = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => DuckDBInstance.create(":memory:"),
        catch: (e) => new Errors.InvalidInput({ reason: `cannot start DuckDB: ${firstLine(e)}` })
      }),
      (i) => Effect.sync(() => i.closeSync())
    )
    const connection = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => instance.connect(),
        catch: (e) => new Errors.InvalidInput({ reason: `cannot start DuckDB: ${firstLine(e)}` })
      }),
      (c) => Effect.sync(() => c.closeSync())
    )
    for (const statement of setupStatements(workdir, files > 0)) {
      yield* exec(connection, statement).pipe(
        Effect.mapError((e) => new Errors.InvalidInput({ reason: `cannot set up the local table: ${e.reason}` }))
      )
    }
    const engine: SqlEngine = { run: (sql) => exec(connection, Athena.rewrite(sql)) }
    return { engine, files }
  })
