/**
 * What makes `phs query` read-only: DuckDB's own settings, applied before the user's SQL and
 * then locked, and a check of each statement with DuckDB's own parser and binder.
 *
 * - Settings (`sandboxSettings`): file access only to the published parts, listed one by one
 *   (`allowed_paths`; no directory is allowed, so nothing can be created next to them and a
 *   glob over the table's directory is refused), no extension installed or loaded, no
 *   community extensions, no persistent secrets, no temp directory (DuckDB spills nothing to
 *   disk). `lockStatement` comes last, after the view and the macros exist: nothing the user
 *   sends can change a setting back.
 * - Statements (`check`): `json_serialize_sql` is DuckDB's parser with no side effect (it
 *   binds nothing); it serializes only SELECT statements (SELECT, WITH, VALUES, FROM, TABLE,
 *   DESCRIBE, SHOW, SUMMARIZE) and tells how many statements the text holds. Anything else
 *   (COPY, ATTACH, INSTALL, LOAD, SET, PRAGMA, EXPLAIN, CREATE, …) is refused before DuckDB
 *   binds it, and so is a text of several statements. After `prepare`, the statement's type
 *   must still be SELECT.
 *
 * Binding is not always free of effects in DuckDB (binding `EXPORT DATABASE 'dir'` creates
 * the directory): the parse check runs first so that a refused statement is never bound, and
 * the settings hold even for what the checks would miss.
 */
import { StatementType, type DuckDBConnection, type DuckDBPreparedStatement } from "@duckdb/node-api"
import { Errors } from "@phs/core"
import { Effect, Schema } from "effect"
import { tokenize } from "./PrestoDialectMacros.js"

const literal = (s: string): string => `'${s.replace(/'/g, "''")}'`

/** The statement kinds `phs query` runs, for messages. */
export const READ_ONLY_KINDS = "SELECT, WITH, VALUES, DESCRIBE, SHOW, SUMMARIZE"

/**
 * The settings that confine a fresh connection to reading `files`, in the order DuckDB takes
 * them (the temp directory and the allowed paths before external access is switched off:
 * afterwards they cannot change).
 */
export const sandboxSettings = (files: ReadonlyArray<string>): ReadonlyArray<string> => [
  "SET temp_directory = ''",
  `SET allowed_paths = [${files.map(literal).join(", ")}]`,
  "SET allowed_directories = []",
  "SET enable_external_access = false",
  "SET autoinstall_known_extensions = false",
  "SET autoload_known_extensions = false",
  "SET allow_community_extensions = false",
  "SET allow_persistent_secrets = false"
]

/** The last setup statement: no setting changes after it. */
export const lockStatement = "SET lock_configuration = true"

/** The first word of a statement (comments and blanks skipped), upper-case, for messages. */
export const firstWord = (sql: string): string => {
  const t = tokenize(sql).find((t) => t.kind !== "space" && t.kind !== "comment")
  return t === undefined ? "" : t.text.toUpperCase()
}

const refuseKind = (sql: string) =>
  new Errors.InvalidInput({
    reason: `refused: phs query runs read-only queries (${READ_ONLY_KINDS}); ${firstWord(sql) || "this"} is not one`
  })

/** What `json_serialize_sql` answers. */
const Serialized = Schema.Union(
  Schema.Struct({ error: Schema.Literal(false), statements: Schema.Array(Schema.Unknown) }),
  Schema.Struct({ error: Schema.Literal(true), error_type: Schema.String, error_message: Schema.String })
)
const decodeSerialized = Schema.decodeUnknown(Schema.parseJson(Serialized))

const firstLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split("\n")[0].trim()

/**
 * Parses `sql` without binding it: fails with one line when it is not exactly one read-only
 * statement. A syntax error passes (the caller's `prepare` reports it in DuckDB's words,
 * failing in the parser before anything is bound).
 */
export const checkParsed = (connection: DuckDBConnection, sql: string): Effect.Effect<void, Errors.InvalidInput> =>
  Effect.gen(function* () {
    const text = yield* Effect.tryPromise({
      try: async () => String((await connection.runAndReadAll("SELECT json_serialize_sql($1::VARCHAR)", [sql])).getRows()[0]?.[0]),
      catch: (e) => new Errors.InvalidInput({ reason: `cannot check the query: ${firstLine(e)}` })
    })
    const parsed = yield* decodeSerialized(text).pipe(
      Effect.mapError(() => new Errors.InvalidInput({ reason: "cannot check the query: DuckDB's parser gave an unexpected answer" }))
    )
    if (parsed.error) {
      if (parsed.error_type === "parser") return
      if (parsed.error_type === "not implemented") return yield* Effect.fail(refuseKind(sql))
      return yield* Effect.fail(new Errors.InvalidInput({ reason: `cannot check the query: ${parsed.error_message}` }))
    }
    const n = parsed.statements.length
    if (n === 0) return yield* Effect.fail(new Errors.InvalidInput({ reason: "nothing to run: the SQL holds no statement" }))
    if (n > 1) {
      return yield* Effect.fail(
        new Errors.InvalidInput({ reason: `refused: phs query runs one statement at a time; this SQL holds ${n} (separated by ;)` })
      )
    }
  })

/** Fails unless the bound statement is a SELECT. */
export const checkPrepared = (prepared: DuckDBPreparedStatement, sql: string): Effect.Effect<void, Errors.InvalidInput> =>
  prepared.statementType === StatementType.SELECT ? Effect.void : Effect.fail(refuseKind(sql))
