/**
 * `phs query "SQL"`, `phs query --named NAME`, `phs query --list`: Athena SQL over the
 * result table `phspectra.decompositions`, through the target's `ResultQuery`
 * (target/Target.ts): locally a read-only DuckDB over the workdir's published Parquet parts
 * (query/LocalSql.ts, query/QuerySandbox.ts), the same SQL text Athena runs; on aws Athena,
 * in the deployment's workgroup (aws/AthenaSql.ts). The rows are written out as they are
 * read (query/ResultWriter.ts). Written once for every target.
 */
import { Args, Command, Options } from "@effect/cli"
import { Errors, NamedQueries } from "@phs/core"
import { Effect, Option } from "effect"
import { explainSetup } from "../aws/Setup.js"
import { note } from "../Output.js"
import * as Format from "../query/Format.js"
import * as PartCheck from "../query/PartCheck.js"
import * as ResultWriter from "../query/ResultWriter.js"
import { type RowStream, rowStreamOf } from "../query/SqlEngine.js"
import { ResultQuery, resultQueryLayer } from "../target/Target.js"
import { awsConfig, onTarget, stack, TARGETS, workdir } from "./shared.js"

export { TARGETS }

const sql = Args.text({ name: "sql" }).pipe(
  Args.withDescription(
    "one Athena SQL query (SELECT, WITH, …) over phspectra.decompositions (also reachable as decompositions); locally it runs read-only"
  ),
  Args.optional
)
const named = Options.text("named").pipe(
  Options.withDescription(`run a named query: ${NamedQueries.NAMED_QUERIES.map((q) => q.name).join(", ")}`),
  Options.optional
)
const list = Options.boolean("list").pipe(Options.withDescription("list the named queries"))
const format = Options.choice("format", Format.FORMATS).pipe(
  Options.withDescription(
    `table (aligned, for people; columns sized on the first ${Format.TABLE_SAMPLE_ROWS} rows), csv (RFC 4180), json (array of objects) or ndjson (one object per line)`
  ),
  Options.withDefault("table" as const)
)
const target = Options.choice("target", TARGETS).pipe(
  Options.withDescription(
    "where the query runs: local = DuckDB over the workdir's Parquet files; aws = Athena, in the deployment's workgroup (with partition projection, name the surveys: WHERE survey = '…')"
  ),
  Options.withDefault("local" as const)
)

/**
 * Writes a result to stdout as it is read. A reader that went away (EPIPE) ends the command
 * quietly, like other Unix tools; another failed write (ENOSPC, …) is an error.
 */
const write = (result: RowStream, f: Format.Format) =>
  ResultWriter.write(result, f, process.stdout).pipe(
    Effect.asVoid,
    Effect.catchTag("OutputClosed", (e) => (e.code === "EPIPE" ? Effect.void : Effect.fail(e)))
  )

/** The SQL to run: exactly one of SQL, --named NAME and --list. */
const chooseSql = (o: { sql: Option.Option<string>; named: Option.Option<string> }) =>
  Effect.gen(function* () {
    if (Option.isSome(o.sql) && Option.isSome(o.named)) {
      return yield* Effect.fail(new Errors.InvalidInput({ reason: "give either SQL or --named NAME, not both" }))
    }
    if (Option.isSome(o.named)) {
      const q = NamedQueries.find(o.named.value)
      if (q === undefined) {
        return yield* Effect.fail(
          new Errors.InvalidInput({
            reason: `no named query ${o.named.value}; the named queries are ${NamedQueries.NAMED_QUERIES.map((n) => n.name).join(", ")}`
          })
        )
      }
      return q.sql
    }
    if (Option.isSome(o.sql) && o.sql.value.trim() !== "") return o.sql.value
    return yield* Effect.fail(
      new Errors.InvalidInput({ reason: 'nothing to run: give SQL (phs query "SELECT …"), --named NAME or --list' })
    )
  })

export const query = Command.make("query", { sql, named, list, format, target, workdir, stack, awsConfig }, (o) =>
  Effect.gen(function* () {
    if (o.list) {
      if (Option.isSome(o.sql) || Option.isSome(o.named)) {
        return yield* Effect.fail(new Errors.InvalidInput({ reason: "--list takes no SQL and no --named" }))
      }
      const columns = o.format === "table" ? ["name", "description"] : ["name", "description", "sql"]
      const rows = NamedQueries.NAMED_QUERIES.map((q) => (o.format === "table" ? [q.name, q.description] : [q.name, q.description, q.sql]))
      return yield* write(rowStreamOf({ columns, rows }), o.format)
    }
    const text = yield* chooseSql(o)
    yield* Effect.scoped(
      Effect.gen(function* () {
        const table = yield* ResultQuery
        for (const n of table.notes) note(n)
        // the statement is accepted (checked, bound) before any part is checked: a refused one costs no hashing
        const rows = yield* table.stream(text)
        // the rows still come (exit 0): a damaged part is named on stderr, as phs status does, for phs verify / resume to settle
        if (o.target === "local")
          for (const l of yield* onTarget(o, "read")(PartCheck.damageLines(o.workdir)).pipe(Effect.orElseSucceed(() => []))) note(l)
        yield* write(rows, o.format)
      })
    ).pipe(Effect.provide(resultQueryLayer(o)), explainSetup)
  })
).pipe(
  Command.withDescription(
    "run an Athena SQL query over the result table phspectra.decompositions (local: a read-only DuckDB over the workdir's Parquet parts, rows streamed; aws: Athena)"
  )
)
