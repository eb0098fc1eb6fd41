/**
 * What `phs query` needs from a SQL engine: run one SQL text over `phspectra.decompositions`
 * and hand back the columns and rows. The local target is DuckDB over the workdir's Parquet
 * files (LocalSql.ts); the aws target (Athena) plugs in behind the same interface.
 */
import type { Errors } from "@phs/core"
import type { Effect } from "effect"

/**
 * A value in a result row, engine-neutral:
 * `null`, `boolean`, `number` (DOUBLE, INTEGER, DECIMAL as double), `bigint` (BIGINT,
 * HUGEINT), `string` (VARCHAR, and temporal/other types rendered as text), an array
 * (ARRAY/LIST), a `Map` (MAP) or a plain object (ROW/STRUCT).
 */
export type SqlValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | ReadonlyArray<SqlValue>
  | ReadonlyMap<SqlValue, SqlValue>
  | { readonly [field: string]: SqlValue }

export interface QueryResult {
  readonly columns: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<SqlValue>>
}

export interface SqlEngine {
  /** Runs Athena (Trino) SQL; a SQL error is `InvalidInput` with the engine's first line. */
  readonly run: (sql: string) => Effect.Effect<QueryResult, Errors.InvalidInput>
}
