/**
 * SQL on Athena: start a query in a workgroup, poll it until it ends, read its result pages.
 * `phs query --target aws` runs the named queries (`NamedQueries`) through it.
 *
 * The Athena calls go through `AthenaApi`, a four-method interface over `AthenaClient`, so
 * tests can stand in a fake.
 *
 * @since 0.1.0
 */
import {
  AthenaClient,
  GetQueryExecutionCommand,
  type GetQueryExecutionCommandInput,
  type GetQueryExecutionCommandOutput,
  GetQueryResultsCommand,
  type GetQueryResultsCommandInput,
  type GetQueryResultsCommandOutput,
  type QueryExecutionStatus,
  StartQueryExecutionCommand,
  type StartQueryExecutionCommandInput,
  type StartQueryExecutionCommandOutput,
  StopQueryExecutionCommand,
  type StopQueryExecutionCommandInput
} from "@aws-sdk/client-athena"
import { Catalog, Errors } from "@phs/core"
import { Context, Duration, Effect, Layer, Schedule } from "effect"
import { clientOptions, type AwsConfig } from "./AwsConfig.js"
import { callStorage } from "./internal/aws.js"

/**
 * The Athena operations a query uses.
 *
 * @since 0.1.0
 * @category models
 */
export interface AthenaApi {
  readonly startQueryExecution: (input: StartQueryExecutionCommandInput, signal: AbortSignal) => Promise<StartQueryExecutionCommandOutput>
  readonly getQueryExecution: (input: GetQueryExecutionCommandInput, signal: AbortSignal) => Promise<GetQueryExecutionCommandOutput>
  readonly getQueryResults: (input: GetQueryResultsCommandInput, signal: AbortSignal) => Promise<GetQueryResultsCommandOutput>
  readonly stopQueryExecution: (input: StopQueryExecutionCommandInput, signal: AbortSignal) => Promise<unknown>
}

/**
 * `AthenaApi` over a real client.
 *
 * @since 0.1.0
 * @category constructors
 */
export const athenaApi = (client: AthenaClient): AthenaApi => ({
  startQueryExecution: (input, abortSignal) => client.send(new StartQueryExecutionCommand(input), { abortSignal }),
  getQueryExecution: (input, abortSignal) => client.send(new GetQueryExecutionCommand(input), { abortSignal }),
  getQueryResults: (input, abortSignal) => client.send(new GetQueryResultsCommand(input), { abortSignal }),
  stopQueryExecution: (input, abortSignal) => client.send(new StopQueryExecutionCommand(input), { abortSignal })
})

/**
 * A cell: numbers for Athena's numeric types, booleans for `boolean`, text otherwise; null
 * for SQL NULL.
 *
 * @since 0.1.0
 * @category models
 */
export type Cell = string | number | boolean | null

/**
 * @since 0.1.0
 * @category models
 */
export interface QueryResult {
  readonly queryExecutionId: string
  readonly columns: ReadonlyArray<{ readonly name: string; readonly type: string }>
  readonly rows: ReadonlyArray<Readonly<Record<string, Cell>>>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface AthenaQuery {
  /** Runs one SQL statement to its end; a query Athena rejects as the user's fault is `InvalidInput`. */
  readonly run: (sql: string) => Effect.Effect<QueryResult, Errors.StorageError | Errors.InvalidInput>
}

/**
 * @since 0.1.0
 * @category tags
 */
export const AthenaQuery = Context.GenericTag<AthenaQuery>("@phs/runtime-lambda/AthenaQuery")

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly workgroup: string
  /** The database unqualified names refer to (default `phspectra`). */
  readonly database?: string
  /** Where results go, when the workgroup does not say (e.g. `s3://bucket/athena-results/`). */
  readonly outputLocation?: string
  /** Wait between status polls (default 500 ms). */
  readonly pollInterval?: Duration.DurationInput
  /** Longest a query may run before it is stopped (default 10 minutes). */
  readonly timeout?: Duration.DurationInput
}

const NUMERIC = new Set(["tinyint", "smallint", "integer", "int", "bigint", "double", "float", "real", "decimal"])

const cell = (type: string, value: string | undefined): Cell => {
  if (value === undefined) return null
  const base = type.toLowerCase().replace(/\(.*$/, "")
  if (NUMERIC.has(base)) return Number(value)
  if (base === "boolean") return value === "true"
  return value
}

type Terminal = "SUCCEEDED" | "FAILED" | "CANCELLED"
const isTerminal = (state: string | undefined): state is Terminal => state === "SUCCEEDED" || state === "FAILED" || state === "CANCELLED"

/**
 * Queries over an Athena API.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (api: AthenaApi, options: Options): AthenaQuery => {
  const spaced: Schedule.Schedule<number, QueryExecutionStatus> = Schedule.spaced(options.pollInterval ?? "500 millis")
  const poll = Schedule.passthrough(spaced)
  const timeout = Duration.decode(options.timeout ?? "10 minutes")
  const stop = (id: string) =>
    Effect.ignore(callStorage("athena stop query", (signal) => api.stopQueryExecution({ QueryExecutionId: id }, signal), id))

  const results = (id: string) =>
    Effect.gen(function* () {
      let columns: QueryResult["columns"] = []
      const rows: Array<Record<string, Cell>> = []
      let token: string | undefined
      let first = true
      do {
        const page = yield* callStorage("athena get results", (signal) => api.getQueryResults({ QueryExecutionId: id, NextToken: token }, signal), id)
        if (first)
          columns = (page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? []).map((c) => ({ name: c.Label ?? c.Name ?? "", type: c.Type ?? "varchar" }))
        let data = page.ResultSet?.Rows ?? []
        // A SELECT's first row repeats the column names.
        if (first && data.length > 0 && data[0].Data?.every((d, i) => d.VarCharValue === columns[i]?.name) === true) data = data.slice(1)
        for (const row of data) {
          const values = row.Data ?? []
          rows.push(Object.fromEntries(columns.map((c, i) => [c.name, cell(c.type, values[i]?.VarCharValue)])))
        }
        first = false
        token = page.NextToken
      } while (token !== undefined && token !== "")
      return { queryExecutionId: id, columns, rows }
    })

  return {
    run: (sql) =>
      Effect.gen(function* () {
        const started = yield* callStorage("athena start query", (signal) =>
          api.startQueryExecution(
            {
              QueryString: sql,
              WorkGroup: options.workgroup,
              QueryExecutionContext: { Database: options.database ?? Catalog.RESULT_DATABASE },
              ...(options.outputLocation === undefined ? {} : { ResultConfiguration: { OutputLocation: options.outputLocation } })
            },
            signal
          )
        )
        const id = started.QueryExecutionId ?? ""
        const status = callStorage("athena query status", (signal) => api.getQueryExecution({ QueryExecutionId: id }, signal), id).pipe(
          Effect.map((out): QueryExecutionStatus => out.QueryExecution?.Status ?? {})
        )
        const ended = yield* Effect.repeat(status, { schedule: poll, until: (s) => isTerminal(s.State) }).pipe(
          Effect.timeoutFail({
            duration: timeout,
            onTimeout: () =>
              new Errors.StorageError({ operation: "athena query", key: id, reason: `not finished after ${Duration.format(timeout)}: stopped`, retryable: false })
          }),
          Effect.tapError(() => stop(id)),
          Effect.onInterrupt(() => stop(id))
        )
        if (ended.State === "SUCCEEDED") return yield* results(id)
        const reason = ended.StateChangeReason ?? ended.AthenaError?.ErrorMessage ?? `query ${ended.State?.toLowerCase()}`
        if (ended.State === "FAILED" && ended.AthenaError?.ErrorCategory === 2) return yield* Effect.fail(new Errors.InvalidInput({ reason }))
        return yield* Effect.fail(
          new Errors.StorageError({ operation: "athena query", key: id, reason, retryable: ended.State === "FAILED" && ended.AthenaError?.Retryable === true })
        )
      })
  }
}

/**
 * An Athena client for `aws`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeClient = (aws: AwsConfig): AthenaClient => new AthenaClient(clientOptions(aws))

/**
 * Queries on Athena; the client is created with the layer and destroyed with it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options & { readonly aws: AwsConfig }): Layer.Layer<AthenaQuery> =>
  Layer.scoped(
    AthenaQuery,
    Effect.map(
      Effect.acquireRelease(Effect.sync(() => makeClient(options.aws)), (client) => Effect.sync(() => client.destroy())),
      (client) => make(athenaApi(client), options)
    )
  )

/**
 * Queries over a given Athena API (a fake, in tests).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerApi = (api: AthenaApi, options: Options): Layer.Layer<AthenaQuery> => Layer.succeed(AthenaQuery, make(api, options))
