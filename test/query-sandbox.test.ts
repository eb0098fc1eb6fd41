/**
 * `phs query` is read-only over the result table: every statement that would write a file,
 * read one that is not a published part, or install or load an extension is refused with one
 * line and exit 2, and afterwards the workdir is byte for byte what it was, the command's
 * working directory and home directory hold nothing new, and the table is unchanged.
 */
import { DuckDBInstance } from "@duckdb/node-api"
import { Cause, Effect, Exit, Option, Scope } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as LocalSql from "../packages/cli/src/query/LocalSql.js"
import { HASH_CACHE_FILE } from "../packages/cli/src/query/PartCheck.js"
import type { SqlEngine } from "../packages/cli/src/query/SqlEngine.js"
import { phs, tempDir } from "./support/cli.js"

const SAMPLE = path.resolve("examples/grs-5x5.fits")

let dir: string
let work: string
let parts: string[]
let snapshot: Map<string, string>
let engine: SqlEngine
let scope: Scope.CloseableScope
let before: string

/**
 * Every file under `root` (relative path → size and SHA-256), directories included; but for
 * phs's own cache of part hashes, which an accepted query may refresh (query/PartCheck.ts).
 */
const tree = (root: string): Map<string, string> => {
  const out = new Map<string, string>()
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (d === root && e.name === HASH_CACHE_FILE) continue
      if (e.isDirectory()) {
        out.set(`${path.relative(root, p)}/`, "dir")
        walk(p)
      } else {
        const bytes = fs.readFileSync(p)
        out.set(path.relative(root, p), `${bytes.length} ${crypto.createHash("sha256").update(bytes).digest("hex")}`)
      }
    }
  }
  walk(root)
  return out
}

const count = async (): Promise<string> => {
  const r = await phs(["query", "SELECT count(*) AS n, sum(list_sum(component_amplitudes)) AS a FROM decompositions", "--format", "csv", "--workdir", work])
  expect(r.code, r.stderr).toBe(0)
  return r.stdout
}

beforeAll(async () => {
  dir = tempDir("phs-query-sandbox-")
  work = path.join(dir, "w")
  const r = await phs(["pipeline", SAMPLE, "--workdir", work, "--json"])
  expect(r.code, r.stderr).toBe(0)
  parts = LocalSql.resultFiles(work)
  expect(parts.length).toBe(1)
  snapshot = tree(work)
  before = await count()
  scope = Effect.runSync(Scope.make())
  engine = (await Effect.runPromise(LocalSql.make(work).pipe(Scope.extend(scope)))).engine
}, 120_000)

afterAll(async () => {
  if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
})

/**
 * Attacks: [what, SQL, where the attack would leave something, through the executable].
 * `{S}` is the survey's partition directory, `{T}` the table's directory, `{P}` the published
 * part, `{W}` the workdir, `{D}` a scratch directory outside it. The attacks of issue 16 run
 * through `phs` (working and home directories of their own); the others through the same
 * engine in this process, which is what `phs query` runs.
 */
const ATTACKS: ReadonlyArray<readonly [string, string, ReadonlyArray<string>, "cli" | "engine"]> = [
  ["COPY into the table doubles it", "COPY (SELECT * FROM decompositions) TO '{S}/x.parquet' (FORMAT parquet)", ["{S}/x.parquet"], "cli"],
  ["COPY over the table with PARTITION_BY and OVERWRITE wipes it", "COPY (SELECT * FROM decompositions WHERE false) TO '{T}' (FORMAT parquet, PARTITION_BY (survey), OVERWRITE)", [], "cli"],
  ["ATTACH a database file in the working directory", "ATTACH 'x.duckdb'", ["x.duckdb"], "cli"],
  ["read a file outside the workdir", "SELECT * FROM read_text('/etc/hostname')", [], "cli"],
  ["INSTALL an extension", "INSTALL httpfs", [], "cli"],
  ["a write hidden after a query", "SELECT 1; COPY (SELECT 1 AS a) TO '{D}/second.csv'", ["{D}/second.csv"], "cli"],
  ["COPY over the published part", "COPY (SELECT * FROM decompositions LIMIT 1) TO '{P}' (FORMAT parquet)", [], "engine"],
  ["COPY to a scratch file", "COPY (SELECT 1 AS a) TO '{D}/out.csv'", ["{D}/out.csv"], "engine"],
  ["ATTACH a database file elsewhere", "ATTACH '{D}/y.duckdb' AS y", ["{D}/y.duckdb"], "engine"],
  ["EXPORT DATABASE (binding alone would create the directory)", "EXPORT DATABASE '{D}/export'", ["{D}/export"], "engine"],
  ["LOAD an extension", "LOAD httpfs", [], "engine"],
  ["FORCE INSTALL from a repository", "FORCE INSTALL httpfs FROM core_nightly", [], "engine"],
  ["SET a setting back", "SET enable_external_access = true", [], "engine"],
  ["unlock the settings", "SET lock_configuration = false", [], "engine"],
  ["CREATE a table", "CREATE TABLE t AS SELECT 1 AS a", [], "engine"],
  ["CREATE a persistent secret", "CREATE PERSISTENT SECRET s (TYPE s3, KEY_ID 'k', SECRET 's')", [], "engine"],
  ["PRAGMA", "PRAGMA database_list", [], "engine"],
  ["CALL", "CALL duckdb_settings()", [], "engine"],
  ["EXPLAIN ANALYZE runs its statement", "EXPLAIN ANALYZE COPY (SELECT 1 AS a) TO '{D}/explained.csv'", ["{D}/explained.csv"], "engine"],
  ["read a run's metadata in the workdir", "SELECT * FROM read_text('{W}/blobs/runs/*/_validation.json')", [], "engine"],
  ["read a chunk's Parquet in the workdir", "SELECT count(*) FROM read_parquet('{W}/blobs/chunks/*/*.parquet')", [], "engine"],
  ["glob the table's directory", "SELECT * FROM glob('{T}/*/*')", [], "engine"],
  ["read over the network", "SELECT * FROM read_parquet('https://example.com/x.parquet')", [], "engine"],
  ["query() of a write", "SELECT * FROM query('COPY (SELECT 1 AS a) TO ''{D}/q.csv''')", ["{D}/q.csv"], "engine"]
]

/** The one line of a refusal: the statement check's, or DuckDB's own when a setting stops it. */
const REFUSAL = /^(refused: |Permission Error: |Parser Error: Expected a single SELECT)/

describe("phs query refuses what is not a read of the published parts", () => {
  for (const [what, template, leftovers, through] of ATTACKS) {
    it(`${what}: one line${through === "cli" ? ", exit 2" : ""}, nothing changed, created or read`, async () => {
      const scratch = fs.mkdtempSync(path.join(dir, "scratch-"))
      const cwd = fs.mkdtempSync(path.join(dir, "cwd-"))
      const home = fs.mkdtempSync(path.join(dir, "home-"))
      const fill = (s: string) =>
        s
          .replaceAll("{S}", path.dirname(parts[0]))
          .replaceAll("{T}", LocalSql.tableRoot(work))
          .replaceAll("{P}", parts[0])
          .replaceAll("{W}", path.resolve(work))
          .replaceAll("{D}", scratch)
      if (through === "cli") {
        const r = await phs(["query", fill(template), "--workdir", path.resolve(work)], {
          cwd,
          // the CLI's own compile cache (bin/phs.js) is kept out of the scratch TMPDIR, which must
          // show what the statement wrote
          env: { HOME: home, TMPDIR: scratch, NODE_COMPILE_CACHE: path.join(dir, "compile-cache") }
        })
        expect(r.code, r.stderr).toBe(2)
        const lines = r.stderr.trimEnd().split("\n")
        expect(lines.length, r.stderr).toBe(1)
        expect(lines[0].replace(/^phs: /, "")).toMatch(REFUSAL)
        expect(r.stdout).toBe("")
      } else {
        const exit = await Effect.runPromiseExit(engine.run(fill(template)))
        const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
        expect(Option.isSome(error)).toBe(true)
        if (Option.isSome(error)) {
          expect(error.value._tag).toBe("InvalidInput")
          expect(error.value.reason).toMatch(REFUSAL)
          expect(error.value.reason).not.toContain("\n")
        }
      }
      expect(tree(work)).toEqual(snapshot)
      expect(fs.readdirSync(cwd)).toEqual([])
      expect(fs.readdirSync(home)).toEqual([])
      expect(fs.readdirSync(scratch)).toEqual([])
      for (const l of leftovers) expect(fs.existsSync(path.resolve(cwd, fill(l)))).toBe(false)
    }, 30_000)
  }

  it("the table counts and sums what it did before the attacks", async () => {
    expect(await count()).toBe(before)
    expect(before).toMatch(/^n,a\r\n25,/)
  }, 30_000)
})

describe("the sandbox", () => {
  it("reads the published parts, by the table or by name", async () => {
    const r = await Effect.runPromise(engine.run(`SELECT (SELECT count(*) FROM decompositions) AS t, (SELECT count(*) FROM read_parquet('${parts[0]}')) AS p`))
    expect(r.rows).toEqual([[25n, 25n]])
  })

  it("runs with external access off, extensions neither installed nor loaded, settings locked", async () => {
    const names = ["enable_external_access", "autoinstall_known_extensions", "autoload_known_extensions", "allow_community_extensions", "allow_persistent_secrets", "lock_configuration", "temp_directory"]
    const r = await Effect.runPromise(engine.run(`SELECT ${names.map((n) => `current_setting('${n}') AS ${n}`).join(", ")}`))
    expect(Object.fromEntries(names.map((n, i) => [n, r.rows[0][i]]))).toEqual({
      enable_external_access: false,
      autoinstall_known_extensions: false,
      autoload_known_extensions: false,
      allow_community_extensions: false,
      allow_persistent_secrets: false,
      lock_configuration: true,
      temp_directory: ""
    })
    const allowed = await Effect.runPromise(engine.run("SELECT current_setting('allowed_paths') AS p, current_setting('allowed_directories') AS d"))
    expect(allowed.rows).toEqual([[parts, []]])
  })

  it("keeps a statement's trailing ; and comments", async () => {
    const r = await Effect.runPromise(engine.run("-- the count\nSELECT count(*) AS n FROM decompositions; /* done */"))
    expect(r.rows).toEqual([[25n]])
  })

  it("takes an empty statement list as nothing to run", async () => {
    const exit = await Effect.runPromiseExit(engine.run(" ; "))
    expect(Exit.isFailure(exit)).toBe(true)
  })
})

describe("the parts", () => {
  it("are the regular Parquet files of the partitions: no hidden temp file, no symbolic link", () => {
    const odd = path.join(fs.mkdtempSync(path.join(dir, "links-")), "w")
    fs.cpSync(work, odd, { recursive: true })
    const partition = path.dirname(LocalSql.resultFiles(odd)[0])
    fs.symlinkSync("/etc/hostname", path.join(partition, "link.parquet"))
    fs.writeFileSync(path.join(partition, ".part.parquet.tmp.parquet"), "")
    expect(LocalSql.resultFiles(odd).map((f) => path.basename(f))).toEqual(parts.map((f) => path.basename(f)))
  })
})

describe("parts written before a column existed", () => {
  it("read it as NULL, mixed with newer parts or alone", async () => {
    const old = path.join(fs.mkdtempSync(path.join(dir, "old-")), "w")
    fs.cpSync(work, old, { recursive: true })
    const [part] = LocalSql.resultFiles(old)
    const oldPart = path.join(path.dirname(part), "old-0000000000000000-0000.parquet")
    // An older writer's part: the columns before the fit-quality ones, another run id.
    const kept = ["x", "y", "beta", "rms", "min_persistence", "n_components", "component_amplitudes", "component_means", "component_stddevs", "nan_channels"]
    const instance = await DuckDBInstance.create(":memory:")
    const c = await instance.connect()
    await c.run(`COPY (SELECT ${kept.join(", ")}, 'old-0000000000000000' AS run_id FROM read_parquet('${part}')) TO '${oldPart}' (FORMAT parquet)`)
    c.closeSync()
    instance.closeSync()
    const sql = "SELECT run_id = 'old-0000000000000000' AS old, count(*) AS n, count(residual_rms) AS fitted FROM decompositions GROUP BY 1 ORDER BY 1"
    const mixed = await phs(["query", sql, "--format", "csv", "--workdir", old])
    expect(mixed.code, mixed.stderr).toBe(0)
    expect(mixed.stdout).toBe("old,n,fitted\r\nfalse,25,25\r\ntrue,25,0\r\n")
    fs.rmSync(part)
    const alone = await phs(["query", sql, "--format", "csv", "--workdir", old])
    expect(alone.code, alone.stderr).toBe(0)
    expect(alone.stdout).toBe("old,n,fitted\r\ntrue,25,0\r\n")
  }, 60_000)
})

describe("a workdir with a quote in its path", () => {
  it("is read, and still confined", async () => {
    const odd = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "phs-q'uote-")), "w")
    fs.cpSync(work, odd, { recursive: true })
    const ok = await phs(["query", "SELECT count(*) AS n FROM decompositions", "--format", "csv", "--workdir", odd])
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stdout).toBe("n\r\n25\r\n")
    const refused = await phs(["query", `SELECT * FROM read_text('${path.join(odd, "blobs", "manifests").replaceAll("'", "''")}/*')`, "--workdir", odd])
    expect(refused.code).toBe(2)
    fs.rmSync(path.dirname(odd), { recursive: true, force: true })
  }, 30_000)
})
