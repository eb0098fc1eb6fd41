/**
 * The local SQL engine: an in-memory DuckDB in which Athena SQL over the result table
 * runs unchanged, read-only.
 *
 * - Catalog `awsdatacatalog` (Athena's default catalog name), schema `phspectra`, view
 *   `phspectra.decompositions` over the workdir's published parts (the Hive-partitioned
 *   Parquet files `blobs/decompositions/survey=*\/*.parquet`, listed one by one; `survey`
 *   typed VARCHAR whatever its value looks like). With no files yet, the view is empty with
 *   the same columns.
 * - Search path `athena, phspectra, main`: `decompositions` resolves unqualified, and the
 *   Athena functions DuckDB lacks (PrestoDialectMacros.ts) are macros in `athena`, ahead of
 *   DuckDB's own.
 * - `integer_division`: `/` of two integers is integer division, as in Athena.
 * - Time zone UTC, as in Athena.
 * - Read-only (QuerySandbox.ts): DuckDB may read the published parts and nothing else, write
 *   nothing, load no extension; the settings are locked; each statement is checked first.
 * - Before running, PrestoDialectMacros.rewrite handles the syntax macros cannot (multi-array
 *   UNNEST, lambda functions).
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
import { Chunk, Effect, Option, type Scope, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Dialect from "./PrestoDialectMacros.js"
import * as QuerySandbox from "./QuerySandbox.js"
import type { QueryResult, RowStream, Rows, SqlValue, StreamingSqlEngine } from "./SqlEngine.js"

/** Athena's default data catalog; `awsdatacatalog.phspectra.decompositions` resolves too. */
export const CATALOG = "awsdatacatalog"

const { database, table, prefix, partitionColumn } = ResultSchema.RESULT_TABLE

/** The directory holding the table's partitions in a workdir. */
export const tableRoot = (workdir: string): string => path.join(path.resolve(RuntimeLocal.blobRoot(workdir)), prefix)

/**
 * The published parts of a workdir (`survey=*\/*.parquet`, hidden temp files aside), sorted:
 * the only files `phs query` may read. Regular files only: a symbolic link there is not a
 * part, and would lead the sandbox's allowed paths elsewhere.
 */
export const resultFiles = (workdir: string): string[] => {
  const root = tableRoot(workdir)
  const dirs = fs.existsSync(root) ? fs.readdirSync(root, { withFileTypes: true }) : []
  return dirs
    .filter((d) => d.isDirectory() && d.name.startsWith(`${partitionColumn.name}=`))
    .flatMap((d) =>
      fs
        .readdirSync(path.join(root, d.name), { withFileTypes: true })
        .filter((f) => f.isFile() && f.name.endsWith(".parquet") && !f.name.startsWith("."))
        .map((f) => path.join(root, d.name, f.name))
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

/**
 * The SQL that sets up a sandboxed connection (`QuerySandbox.sandboxSettings(files)` already
 * applied) over the result files `files` (absolute paths), lock included. `present`: the
 * columns found in at least one file. Parts written before a column existed read it as NULL
 * (`union_by_name`); a column no part has yet is NULL throughout, so a workdir of older runs
 * stays queryable.
 */
export const setupStatements = (files: ReadonlyArray<string>, present: ReadonlySet<string>): string[] => {
  const nulls = (c: { readonly name: string; readonly duckdb: string }) => `CAST(NULL AS ${c.duckdb}) AS ${ident(c.name)}`
  const columns = TABLE_COLUMNS.map((c) => (c.name === partitionColumn.name || present.has(c.name) ? ident(c.name) : nulls(c))).join(", ")
  const source =
    files.length > 0
      ? `SELECT ${columns} FROM read_parquet([${files.map(literal).join(", ")}], union_by_name = true, ` +
        `hive_partitioning = true, hive_types = {${literal(partitionColumn.name)}: ${partitionColumn.duckdb}}, hive_types_autocast = false)`
      : `SELECT ${TABLE_COLUMNS.map(nulls).join(", ")} WHERE false`
  return [
    `ATTACH ':memory:' AS ${CATALOG}`,
    `USE ${CATALOG}`,
    `CREATE SCHEMA ${database}`,
    `CREATE SCHEMA ${Dialect.MACRO_SCHEMA}`,
    `CREATE VIEW ${database}.${table} AS ${source}`,
    ...Dialect.macroStatements(),
    `SET search_path = ${literal(`${Dialect.MACRO_SCHEMA},${database},main`)}`,
    `SET integer_division = true`,
    `SET TimeZone = 'UTC'`,
    QuerySandbox.lockStatement
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

const invalid = (e: unknown) => new Errors.InvalidInput({ reason: firstLine(e) })

const run = (connection: DuckDBConnection, sql: string): Effect.Effect<void, Errors.InvalidInput> =>
  Effect.tryPromise({ try: () => connection.run(sql), catch: invalid })

/** The names in the Parquet schemas of `files` (top-level columns and nested element names). */
const columnsIn = (connection: DuckDBConnection, files: ReadonlyArray<string>): Effect.Effect<Set<string>, Errors.InvalidInput> =>
  Effect.tryPromise({
    try: async () => {
      const r = await connection.runAndReadAll(`SELECT DISTINCT name FROM parquet_schema([${files.map(literal).join(", ")}])`)
      return new Set(r.getRows().map((row) => String(row[0])))
    },
    catch: invalid
  })

/**
 * One read-only statement, streamed: checked unbound, prepared, checked bound, then read a
 * DuckDB chunk (2,048 rows) at a time as the stream is pulled. Closing the scope ends the
 * query, read to the end or not.
 */
const stream = (connection: DuckDBConnection, sql: string): Effect.Effect<RowStream, Errors.InvalidInput, Scope.Scope> =>
  Effect.gen(function* () {
    yield* QuerySandbox.checkParsed(connection, sql)
    const prepared = yield* Effect.acquireRelease(
      Effect.tryPromise({ try: () => connection.prepare(sql), catch: invalid }),
      (p) => Effect.sync(() => p.destroySync())
    )
    yield* QuerySandbox.checkPrepared(prepared, sql)
    const result = yield* Effect.tryPromise({ try: () => prepared.stream(), catch: invalid })
    const columns = result.columnNames()
    const next: Effect.Effect<Rows, Option.Option<Errors.InvalidInput>> = Effect.tryPromise({
      try: () => result.fetchChunk(),
      catch: (e) => Option.some(invalid(e))
    }).pipe(
      Effect.flatMap((chunk) =>
        chunk === null || chunk.rowCount === 0
          ? Effect.fail(Option.none())
          : Effect.succeed(chunk.getRows().map((row) => row.map(toSqlValue)))
      )
    )
    return { columns, chunks: Stream.repeatEffectOption(next) }
  })

/** A streamed result read whole. */
const collect = (rows: RowStream): Effect.Effect<QueryResult, Errors.InvalidInput> =>
  Stream.runCollect(rows.chunks).pipe(Effect.map((chunks) => ({ columns: rows.columns, rows: Chunk.toReadonlyArray(chunks).flat() })))

export interface LocalSql {
  readonly engine: StreamingSqlEngine
  /** Result files the view reads (0: the table is empty). */
  readonly files: number
}

/** A read-only engine over a workdir's result table, closed with the scope. */
export const make = (workdir: string): Effect.Effect<LocalSql, Errors.InvalidInput, Scope.Scope> =>
  Effect.gen(function* () {
    const files = resultFiles(workdir)
    const instance = yield* Effect.acquireRelease(
      Effect.tryPromise({
        // No extension is installed or loaded, not even while the sandbox is being set up.
        try: () => DuckDBInstance.create(":memory:", { autoinstall_known_extensions: "false", autoload_known_extensions: "false" }),
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
    const setup = <A>(effect: Effect.Effect<A, Errors.InvalidInput>) =>
      effect.pipe(Effect.mapError((e) => new Errors.InvalidInput({ reason: `cannot set up the local table: ${e.reason}` })))
    for (const statement of QuerySandbox.sandboxSettings(files)) yield* setup(run(connection, statement))
    const present = files.length === 0 ? new Set<string>() : yield* setup(columnsIn(connection, files))
    for (const statement of setupStatements(files, present)) yield* setup(run(connection, statement))
    const engine: StreamingSqlEngine = {
      stream: (sql) => stream(connection, Dialect.rewrite(sql)),
      run: (sql) => Effect.scoped(Effect.flatMap(stream(connection, Dialect.rewrite(sql)), collect))
    }
    return { engine, files: files.length }
  })
