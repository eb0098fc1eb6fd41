/**
 * What `phs query` needs from a SQL engine: run one SQL text over `phspectra.decompositions`
 * and hand back the columns and rows, whole (`run`) or a chunk at a time (`stream`, so a large
 * result never sits in memory). The local target is DuckDB over the workdir's Parquet files
 * (LocalSql.ts); the aws target is Athena (aws/AthenaSql.ts), whose pages come whole.
 */
import type { Errors } from "@phs/core"
import { type Effect, type Scope, Stream } from "effect"

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

/** Rows of a result, in order. */
export type Rows = ReadonlyArray<ReadonlyArray<SqlValue>>

/** A result read as it is consumed: its columns, then its rows a chunk at a time. */
export interface RowStream {
  readonly columns: ReadonlyArray<string>
  readonly chunks: Stream.Stream<Rows, Errors.InvalidInput>
}

/** A whole result as a stream of one chunk. */
export const rowStreamOf = (result: QueryResult): RowStream => ({ columns: result.columns, chunks: Stream.make(result.rows) })

export interface SqlEngine {
  /** Runs Athena (Trino) SQL; a SQL error is `InvalidInput` with the engine's first line. */
  readonly run: (sql: string) => Effect.Effect<QueryResult, Errors.InvalidInput>
}

/** An engine that also streams: the result is read as the stream is pulled, and the query ends with the scope. */
export interface StreamingSqlEngine extends SqlEngine {
  readonly stream: (sql: string) => Effect.Effect<RowStream, Errors.InvalidInput, Scope.Scope>
}
