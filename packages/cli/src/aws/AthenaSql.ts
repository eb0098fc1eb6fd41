/**
 * `phs query --target aws`: the SQL engine behind `phs query` on Athena, through the
 * runtime's `AthenaQuery` (start, poll, paginated results) in the deployment's workgroup,
 * with `phspectra` as the default database (so `decompositions` resolves unqualified, as it
 * does locally). Rows come back as the engine-neutral `SqlValue`s the formats print.
 *
 * Its error channel is `SqlEngine`'s (`InvalidInput`: a query Athena rejects as the user's
 * fault, exit 2) plus `StorageError` (Athena unreachable, access denied, a system error:
 * exit 1, after a few tries when transient).
 */
import { Errors } from "@phs/core"
import { AthenaQuery } from "@phs/runtime-lambda"
import { Effect, type Scope, Schedule } from "effect"
import type { QueryResult, SqlEngine, SqlValue } from "../query/SqlEngine.js"
import { awsFor, type Deployment } from "./Deployment.js"

/** `SqlEngine`, with the failures of a remote engine in its error channel too (a `SqlEngine` is one). */
export interface RemoteSqlEngine {
  readonly run: (sql: string) => Effect.Effect<QueryResult, Errors.InvalidInput | Errors.StorageError>
}

/** Every local engine is a remote one that never fails for remote reasons. */
export const fromLocal = (engine: SqlEngine): RemoteSqlEngine => engine

type ResultsPage = Awaited<ReturnType<AthenaQuery.AthenaApi["getQueryResults"]>>

/** Separates the occurrence number that makes a repeated column label unique (removed again in `toQueryResult`). */
const DUP = "\u0000#"

/**
 * Makes repeated column labels unique in the first result page (AthenaQuery keys a row's
 * cells by label, so `SELECT x, x` would lose a column), the header row included.
 */
const uniqueLabels = (page: ResultsPage): ResultsPage => {
  const info = page.ResultSet?.ResultSetMetadata?.ColumnInfo
  if (info === undefined || page.ResultSet === undefined) return page
  const labels = info.map((c) => c.Label ?? c.Name ?? "")
  if (new Set(labels).size === labels.length) return page
  const seen = new Map<string, number>()
  const unique = labels.map((l) => {
    const n = (seen.get(l) ?? 0) + 1
    seen.set(l, n)
    return n === 1 ? l : `${l}${DUP}${n}`
  })
  const rows = page.ResultSet.Rows ?? []
  const header = rows.length > 0 && rows[0].Data?.every((d, i) => d.VarCharValue === labels[i]) === true
  return {
    ...page,
    ResultSet: {
      ...page.ResultSet,
      ResultSetMetadata: { ...page.ResultSet.ResultSetMetadata, ColumnInfo: info.map((c, i) => ({ ...c, Label: unique[i], Name: unique[i] })) },
      Rows: header ? [{ Data: unique.map((u) => ({ VarCharValue: u })) }, ...rows.slice(1)] : rows
    }
  }
}

/** An Athena API whose first result page has unique column labels. */
export const withUniqueLabels = (api: AthenaQuery.AthenaApi): AthenaQuery.AthenaApi => ({
  ...api,
  getQueryResults: (input, signal) => api.getQueryResults(input, signal).then((page) => (input.NextToken === undefined ? uniqueLabels(page) : page))
})

/** AthenaQuery's result as columns and rows. */
export const toQueryResult = (r: AthenaQuery.QueryResult): QueryResult => ({
  columns: r.columns.map((c) => c.name.split(DUP)[0]),
  rows: r.rows.map((row) => r.columns.map((c): SqlValue => row[c.name] ?? null))
})

/** The engine over an `AthenaQuery`; transient failures are tried again a few times. */
export const make = (athena: AthenaQuery.AthenaQuery): RemoteSqlEngine => ({
  run: (sql) =>
    athena.run(sql).pipe(
      Effect.retry({ while: (e) => e._tag === "StorageError" && e.retryable, schedule: Schedule.exponential("1 second").pipe(Schedule.intersect(Schedule.recurs(3))) }),
      Effect.map(toQueryResult)
    )
})

/** The engine of a deployment: its client lives as long as the scope. */
export const scoped = (d: Deployment): Effect.Effect<RemoteSqlEngine, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(Effect.sync(() => AthenaQuery.makeClient(awsFor(d, "athena"))), (client) => Effect.sync(() => client.destroy())),
    (client) =>
      make(
        AthenaQuery.make(withUniqueLabels(AthenaQuery.athenaApi(client)), {
          workgroup: d.workgroup,
          database: d.glueDatabase,
          ...(d.athenaOutput === undefined ? {} : { outputLocation: d.athenaOutput })
        })
      )
  )
