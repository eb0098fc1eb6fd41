/**
 * DuckDB macros imitating the Presto/Trino dialect Athena speaks, so that Athena SQL runs on
 * DuckDB unchanged: the functions DuckDB lacks or names differently,
 * as DuckDB macros in a schema `athena` that comes first on the search path (so they
 * shadow DuckDB's own functions of the same name, e.g. `cardinality`, which in DuckDB
 * only accepts MAPs), and a small source rewrite for the syntax a macro cannot provide
 * (UNNEST of several arrays at once, and the lambda functions: a DuckDB macro cannot take
 * a lambda argument).
 */

/** The schema that holds the macros; first on the search path. */
export const MACRO_SCHEMA = "athena"

export interface Macro {
  /** The Athena name. */
  readonly name: string
  /** Athena signatures, for the docs. */
  readonly athena: string
  /** One `(params) AS expr` per overload (DuckDB macros overload by arity). */
  readonly overloads: ReadonlyArray<string>
  readonly note?: string
}

/**
 * The Athena functions phs provides locally. DuckDB's own functions that are already
 * Athena-compatible (COUNT, AVG, STDDEV, date_trunc, date_diff, split_part, …) need none.
 */
export const MACROS: ReadonlyArray<Macro> = [
  { name: "cardinality", athena: "cardinality(array)", overloads: ["(a) AS len(a)"], note: "arrays only (DuckDB's cardinality takes only MAPs): use cardinality(map_keys(m)) for a map" },
  { name: "element_at", athena: "element_at(array, i), element_at(map, key)", overloads: ["(a, i) AS a[i]"], note: "1-based, negative from the end, NULL out of range" },
  {
    name: "approx_percentile",
    athena: "approx_percentile(x, p), approx_percentile(x, ARRAY[p1, p2, …])",
    overloads: ["(x, p) AS quantile_disc(x, p)"],
    note: "computed exactly (quantile_disc: the smallest value v with a fraction ≥ p of the values ≤ v); Athena's answer is within ~1% rank of it"
  },
  { name: "approx_distinct", athena: "approx_distinct(x)", overloads: ["(x) AS approx_count_distinct(x)"] },
  { name: "every", athena: "every(b)", overloads: ["(b) AS bool_and(b)"] },
  { name: "map_agg", athena: "map_agg(k, v)", overloads: ["(k, v) AS map(list(k), list(v))"] },
  { name: "array_max", athena: "array_max(array)", overloads: ["(a) AS list_max(a)"] },
  { name: "array_min", athena: "array_min(array)", overloads: ["(a) AS list_min(a)"] },
  {
    name: "array_join",
    athena: "array_join(array, sep[, null_replacement])",
    overloads: ["(a, sep) AS array_to_string(a, sep)", "(a, sep, nr) AS array_to_string(list_transform(a, e -> coalesce(CAST(e AS VARCHAR), nr)), sep)"]
  },
  { name: "arrays_overlap", athena: "arrays_overlap(a, b)", overloads: ["(a, b) AS list_has_any(a, b)"] },
  {
    name: "array_union",
    athena: "array_union(a, b)",
    overloads: ["(a, b) AS list_filter(list_concat(a, b), (e, i) -> list_position(list_concat(a, b), e) = i)"],
    note: "distinct elements in order of first appearance"
  },
  { name: "sequence", athena: "sequence(start, stop[, step])", overloads: ["(a, b) AS generate_series(a, b)", "(a, b, s) AS generate_series(a, b, s)"] },
  {
    name: "slice",
    athena: "slice(array, start, length)",
    overloads: ["(a, s, n) AS CASE WHEN s > 0 THEN list_slice(a, s, s + n - 1) ELSE list_slice(a, len(a) + s + 1, len(a) + s + n) END"]
  },
  {
    name: "zip",
    athena: "zip(a, b[, c])",
    overloads: [
      "(a, b) AS list_transform(generate_series(1, greatest(len(a), len(b))), i -> {'field0': a[i], 'field1': b[i]})",
      "(a, b, c) AS list_transform(generate_series(1, greatest(len(a), len(b), len(c))), i -> {'field0': a[i], 'field1': b[i], 'field2': c[i]})"
    ],
    note: "rows with fields field0, field1, …, padded with NULL"
  },
  { name: "is_nan", athena: "is_nan(x)", overloads: ["(x) AS isnan(x)"] },
  { name: "is_finite", athena: "is_finite(x)", overloads: ["(x) AS isfinite(x)"] },
  { name: "is_infinite", athena: "is_infinite(x)", overloads: ["(x) AS isinf(x)"] },
  { name: "nan", athena: "nan()", overloads: ["() AS CAST('NaN' AS DOUBLE)"] },
  { name: "infinity", athena: "infinity()", overloads: ["() AS CAST('Infinity' AS DOUBLE)"] },
  { name: "e", athena: "e()", overloads: ["() AS exp(1)"] },
  { name: "rand", athena: "rand()", overloads: ["() AS random()"] },
  { name: "truncate", athena: "truncate(x)", overloads: ["(x) AS trunc(x)"] },
  {
    name: "width_bucket",
    athena: "width_bucket(x, bound1, bound2, n)",
    overloads: ["(x, lo, hi, n) AS CASE WHEN x < lo THEN 0 WHEN x >= hi THEN n + 1 ELSE CAST(floor(CAST(x - lo AS DOUBLE) / (hi - lo) * n) AS BIGINT) + 1 END"],
    note: "bound1 < bound2"
  },
  { name: "regexp_like", athena: "regexp_like(s, pattern)", overloads: ["(s, p) AS regexp_matches(s, p)"] },
  {
    name: "regexp_replace",
    athena: "regexp_replace(s, pattern[, replacement])",
    overloads: [
      "(s, p) AS system.main.regexp_replace(s, p, '', 'g')",
      "(s, p, r) AS system.main.regexp_replace(s, p, r, 'g')"
    ],
    note: "replaces every match, as Athena does; back-references are written \\1 (RE2), not $1"
  },
  { name: "json_extract_scalar", athena: "json_extract_scalar(json, path)", overloads: ["(j, p) AS json_extract_string(j, p)"] },
  { name: "json_format", athena: "json_format(json)", overloads: ["(j) AS CAST(j AS VARCHAR)"] },
  { name: "json_parse", athena: "json_parse(s)", overloads: ["(s) AS CAST(s AS JSON)"] },
  { name: "levenshtein_distance", athena: "levenshtein_distance(a, b)", overloads: ["(a, b) AS levenshtein(a, b)"] },
  { name: "hamming_distance", athena: "hamming_distance(a, b)", overloads: ["(a, b) AS hamming(a, b)"] },
  { name: "from_unixtime", athena: "from_unixtime(seconds)", overloads: ["(t) AS to_timestamp(t)"] },
  { name: "to_unixtime", athena: "to_unixtime(timestamp)", overloads: ["(t) AS epoch(t)"] },
  { name: "from_iso8601_timestamp", athena: "from_iso8601_timestamp(s)", overloads: ["(s) AS CAST(s AS TIMESTAMPTZ)"] },
  { name: "from_iso8601_date", athena: "from_iso8601_date(s)", overloads: ["(s) AS CAST(s AS DATE)"] },
  {
    name: "date_add",
    athena: "date_add(unit, n, t)",
    overloads: ["(d, i) AS d + i", "(u, n, t) AS t + CAST(CAST(n AS VARCHAR) || ' ' || u AS INTERVAL)"],
    note: "returns a TIMESTAMP also for a DATE argument"
  },
  { name: "day_of_week", athena: "day_of_week(t), dow(t)", overloads: ["(t) AS isodow(t)"] },
  { name: "dow", athena: "dow(t)", overloads: ["(t) AS isodow(t)"] },
  { name: "day_of_year", athena: "day_of_year(t), doy(t)", overloads: ["(t) AS dayofyear(t)"] },
  { name: "doy", athena: "doy(t)", overloads: ["(t) AS dayofyear(t)"] }
]

/** The statements that create the macros. */
export const macroStatements = (): ReadonlyArray<string> =>
  MACROS.map((m) => `CREATE OR REPLACE MACRO ${MACRO_SCHEMA}.${m.name}${m.overloads.join(", ")}`)

// ---------------------------------------------------------------------------------------
// The rewrite

interface Token {
  readonly kind: "word" | "quoted" | "string" | "number" | "punct" | "space" | "comment"
  readonly text: string
}

const isWordStart = (c: string) => /[A-Za-z_]/.test(c)
const isWord = (c: string) => /[A-Za-z0-9_$]/.test(c)

/** Splits SQL into tokens; concatenating the texts gives the input back. */
export const tokenize = (sql: string): Token[] => {
  const out: Token[] = []
  let i = 0
  const quoted = (q: string, kind: Token["kind"]) => {
    let j = i + 1
    while (j < sql.length) {
      if (sql[j] === q) {
        if (sql[j + 1] === q) j += 2
        else break
      } else j++
    }
    out.push({ kind, text: sql.slice(i, j + 1) })
    i = j + 1
  }
  while (i < sql.length) {
    const c = sql[i]
    if (c === "'") quoted("'", "string")
    else if (c === '"') quoted('"', "quoted")
    else if (c === "-" && sql[i + 1] === "-") {
      const end = sql.indexOf("\n", i)
      const j = end === -1 ? sql.length : end
      out.push({ kind: "comment", text: sql.slice(i, j) })
      i = j
    } else if (c === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2)
      const j = end === -1 ? sql.length : end + 2
      out.push({ kind: "comment", text: sql.slice(i, j) })
      i = j
    } else if (/\s/.test(c)) {
      let j = i
      while (j < sql.length && /\s/.test(sql[j])) j++
      out.push({ kind: "space", text: sql.slice(i, j) })
      i = j
    } else if (isWordStart(c)) {
      let j = i
      while (j < sql.length && isWord(sql[j])) j++
      out.push({ kind: "word", text: sql.slice(i, j) })
      i = j
    } else if (/[0-9]/.test(c)) {
      let j = i
      while (j < sql.length && /[0-9.eE]/.test(sql[j])) j++
      out.push({ kind: "number", text: sql.slice(i, j) })
      i = j
    } else {
      out.push({ kind: "punct", text: c })
      i++
    }
  }
  return out
}

const significant = (t: Token) => t.kind !== "space" && t.kind !== "comment"
const isKeyword = (t: Token | undefined, word: string) => t !== undefined && t.kind === "word" && t.text.toLowerCase() === word
const isPunct = (t: Token | undefined, p: string) => t !== undefined && t.kind === "punct" && t.text === p

/** Index of the next significant token at or after `i` (or tokens.length). */
const next = (tokens: ReadonlyArray<Token>, i: number): number => {
  while (i < tokens.length && !significant(tokens[i])) i++
  return i
}

/** Index of the previous significant token before `i` (or -1). */
const previous = (tokens: ReadonlyArray<Token>, i: number): number => {
  let j = i - 1
  while (j >= 0 && !significant(tokens[j])) j--
  return j
}

/**
 * For the `(` at `open`: the index of its `)` and the top-level arguments as SQL text.
 * Undefined when unbalanced.
 */
const callArguments = (tokens: ReadonlyArray<Token>, open: number): { close: number; args: string[] } | undefined => {
  let depth = 0
  const args: string[] = []
  let current = ""
  for (let i = open; i < tokens.length; i++) {
    const t = tokens[i]
    if (isPunct(t, "(") || isPunct(t, "[")) {
      depth++
      if (depth === 1) continue
    } else if (isPunct(t, ")") || isPunct(t, "]")) {
      depth--
      if (depth === 0) {
        args.push(current.trim())
        return { close: i, args: args.length === 1 && args[0] === "" ? [] : args }
      }
    } else if (depth === 1 && isPunct(t, ",")) {
      args.push(current.trim())
      current = ""
      continue
    }
    current += t.text
  }
  return undefined
}

/** Rewrites the token range [from, to] (inclusive) to `text`. */
interface Edit {
  readonly from: number
  readonly to: number
  readonly text: string
}

const applyEdits = (tokens: ReadonlyArray<Token>, edits: ReadonlyArray<Edit>): string => {
  let out = ""
  let i = 0
  for (const e of [...edits].sort((a, b) => a.from - b.from)) {
    if (e.from < i) continue
    for (; i < e.from; i++) out += tokens[i].text
    out += e.text
    i = e.to + 1
  }
  for (; i < tokens.length; i++) out += tokens[i].text
  return out
}

/**
 * `UNNEST(a, b, …) [WITH ORDINALITY] [AS] t(x, y, …[, n])` — Athena zips the arrays (the
 * shorter ones padded with NULL); DuckDB's UNNEST table function takes one array. Becomes
 * `LATERAL (SELECT UNNEST(a) AS x, UNNEST(b) AS y[, UNNEST(range(1, greatest(len(a), …) + 1)) AS n]) AS t(x, y[, n])`,
 * which DuckDB evaluates with the same zip-and-pad semantics.
 */
const rewriteUnnest = (tokens: ReadonlyArray<Token>, at: number): Edit | undefined => {
  const open = next(tokens, at + 1)
  if (!isPunct(tokens[open], "(")) return undefined
  const call = callArguments(tokens, open)
  if (call === undefined || call.args.length < 2) return undefined
  let i = next(tokens, call.close + 1)
  let ordinality = false
  if (isKeyword(tokens[i], "with") && isKeyword(tokens[next(tokens, i + 1)], "ordinality")) {
    ordinality = true
    i = next(tokens, next(tokens, i + 1) + 1)
  }
  if (isKeyword(tokens[i], "as")) i = next(tokens, i + 1)
  const alias = tokens[i]
  if (alias === undefined || (alias.kind !== "word" && alias.kind !== "quoted")) return undefined
  const colsOpen = next(tokens, i + 1)
  if (!isPunct(tokens[colsOpen], "(")) return undefined
  const cols = callArguments(tokens, colsOpen)
  if (cols === undefined || cols.args.length !== call.args.length + (ordinality ? 1 : 0)) return undefined
  const items = call.args.map((a, k) => `UNNEST(${a}) AS ${cols.args[k]}`)
  if (ordinality) {
    items.push(`UNNEST(range(1, greatest(${call.args.map((a) => `len(${a})`).join(", ")}) + 1)) AS ${cols.args[cols.args.length - 1]}`)
  }
  return { from: at, to: cols.close, text: `LATERAL (SELECT ${items.join(", ")}) AS ${alias.text}(${cols.args.join(", ")})` }
}

/**
 * The Athena functions that take lambdas, as DuckDB list functions: `[before, after]`
 * around the original arguments (for `reduce`, a function of them).
 */
const LAMBDA_FUNCTIONS: Record<string, (args: string[]) => string | undefined> = {
  transform: (a) => (a.length === 2 ? `list_transform(${a[0]}, ${a[1]})` : undefined),
  filter: (a) => (a.length === 2 ? `list_filter(${a[0]}, ${a[1]})` : undefined),
  any_match: (a) => (a.length === 2 ? `coalesce(list_bool_or(list_transform(${a[0]}, ${a[1]})), false)` : undefined),
  all_match: (a) => (a.length === 2 ? `coalesce(list_bool_and(list_transform(${a[0]}, ${a[1]})), true)` : undefined),
  none_match: (a) => (a.length === 2 ? `NOT coalesce(list_bool_or(list_transform(${a[0]}, ${a[1]})), false)` : undefined),
  reduce: (a) => (a.length === 4 ? `list_transform([list_reduce(${a[0]}, ${a[2]}, ${a[1]})], ${a[3]})[1]` : undefined)
}

/** The Athena lambda functions that the rewrite turns into DuckDB list functions. */
export const LAMBDA_FUNCTION_NAMES: ReadonlyArray<string> = Object.keys(LAMBDA_FUNCTIONS)

/**
 * Athena SQL → SQL DuckDB runs with the same meaning, for the constructs a macro cannot
 * provide: UNNEST of several arrays (with or without ORDINALITY) and the lambda functions
 * (transform, filter, reduce, any_match, all_match, none_match). Everything else is left
 * as written, strings, quoted identifiers and comments included. Uses nested in the
 * arguments of a rewritten one are rewritten in a later pass.
 */
export const rewrite = (sql: string): string => {
  for (let round = 0; round < 64; round++) {
    const tokens = tokenize(sql)
    const edits: Edit[] = []
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]
      if (t.kind !== "word") continue
      const name = t.text.toLowerCase()
      const prev = tokens[previous(tokens, i)]
      if (isPunct(prev, ".")) continue
      if (name === "unnest") {
        const edit = rewriteUnnest(tokens, i)
        if (edit !== undefined) {
          edits.push(edit)
          break
        }
      } else if (Object.hasOwn(LAMBDA_FUNCTIONS, name)) {
        const open = next(tokens, i + 1)
        if (!isPunct(tokens[open], "(")) continue
        // `count(*) FILTER (WHERE …)` is not the filter function.
        if (name === "filter" && isKeyword(tokens[next(tokens, open + 1)], "where")) continue
        const call = callArguments(tokens, open)
        if (call === undefined) continue
        const text = LAMBDA_FUNCTIONS[name](call.args)
        if (text === undefined) continue
        edits.push({ from: i, to: call.close, text })
        break
      }
    }
    if (edits.length === 0) return sql
    sql = applyEdits(tokens, edits)
  }
  return sql
}
