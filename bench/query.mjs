#!/usr/bin/env node
// Memory of `phs query` over a large table: peak RSS of `SELECT *` in every output format, at
// two table sizes (default 100,000 and 300,000 rows, 0–6 components each, written by core's
// Parquet writer into a scratch workdir), next to a `count(*)` baseline. Streamed output keeps
// the peak flat in the row count: the ratio of the two sizes' peaks is the figure to watch.
//   npm run bench:query [-- --rows 100000,300000 --part-rows 100000 --keep]
//   PHS_BENCH_FORMATS=csv,json picks the formats (default table,csv,json,ndjson)
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const phs = path.join(here, "..", "packages", "cli", "bin", "phs.js")
const core = (name) => import(pathToFileURL(path.join(here, "..", "packages", "core", "dist", name)).href)
const { encodeRows } = await core("ResultParquet.js")
const { RESULT_COLUMNS } = await core("ResultSchema.js")
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : fallback
}
const sizes = arg("rows", "100000,300000").split(",").map(Number)
const partRows = Number(arg("part-rows", 100_000))
const formats = (process.env.PHS_BENCH_FORMATS ?? "table,csv,json,ndjson").split(",")
const nx = 1000
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "phs-bench-query-"))

/** A workdir whose table holds `total` rows, the same on every run (xorshift32 from a fixed seed). */
const makeWorkdir = (total) => {
  let state = 2463534242
  const random = () => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return (state >>> 0) / 2 ** 32
  }
  const workdir = path.join(tmp, `w-${total}`)
  const dir = path.join(workdir, "blobs", "decompositions", "survey=bench")
  fs.mkdirSync(dir, { recursive: true })
  const runId = "bench-0000000000000000"
  for (let part = 0, p = 0; p < total; part++) {
    const rows = []
    for (let end = Math.min(total, p + partRows); p < end; p++) {
      const n = Math.floor(random() * 7)
      const list = (f) => Array.from({ length: n }, f)
      const row = {
        x: p % nx,
        y: Math.floor(p / nx),
        beta: 3.5,
        rms: 0.05 + random() * 0.1,
        min_persistence: n === 0 ? null : random(),
        n_components: n,
        component_amplitudes: list(() => random() * 2),
        component_means: list(() => random() * 424),
        component_stddevs: list(() => 0.3 + random() * 20),
        nan_channels: 0,
        run_id: runId
      }
      // Columns added since: a value of their type (a list as long as the components).
      const filler = { int32: () => 0, double: () => random(), string: () => "bench", "list<double>": () => list(() => random()) }
      for (const c of RESULT_COLUMNS) if (!(c.name in row)) row[c.name] = filler[c.parquet]()
      rows.push(row)
    }
    fs.writeFileSync(path.join(dir, `${runId}-${String(part).padStart(4, "0")}.parquet`), encodeRows(rows))
  }
  return workdir
}

/** `phs query SQL --format F > /dev/null` under /usr/bin/time: peak RSS (MiB), CPU and wall seconds. */
const measure = (workdir, sql, format) => {
  const t0 = Date.now()
  const r = spawnSync("/usr/bin/time", ["-f", "%M %U %S", process.execPath, phs, "query", sql, "--format", format, "--workdir", workdir], {
    encoding: "utf8",
    stdio: ["ignore", "ignore", "pipe"]
  })
  const wallS = (Date.now() - t0) / 1000
  const lines = r.stderr.trimEnd().split("\n")
  const [kib, user, sys] = lines.at(-1).split(" ").map(Number)
  const failed = r.status === 0 ? "" : (lines.find((l) => l.startsWith("phs:")) ?? `exit ${r.status}`)
  return { peakRssMiB: Math.round(kib / 1024), cpuS: Number((user + sys).toFixed(1)), wallS, failed }
}

console.log(`phs query benchmark: tables of ${sizes.join(", ")} rows, ${os.availableParallelism()} cores, node ${process.version}`)
const results = []
for (const total of sizes) {
  const workdir = makeWorkdir(total)
  const base = measure(workdir, "SELECT count(*) AS n FROM decompositions", "table")
  if (base.failed !== "") throw new Error(`phs query count(*) failed: ${base.failed}`)
  results.push({ rows: total, query: "count(*)", format: "table", ...base })
  for (const format of formats) {
    const m = measure(workdir, "SELECT * FROM decompositions", format)
    results.push({ rows: total, query: "SELECT *", format, ...m })
    console.log(
      `  ${total} rows, SELECT * --format ${format}: peak RSS ${m.peakRssMiB} MiB (count(*): ${base.peakRssMiB} MiB), ${m.cpuS} s CPU, ${m.wallS.toFixed(1)} s wall${m.failed === "" ? "" : `, FAILED: ${m.failed}`}`
    )
  }
}
console.table(results)
if (sizes.length > 1) {
  const [small, large] = [sizes[0], sizes.at(-1)]
  for (const format of formats) {
    const peak = (rows) => results.find((r) => r.rows === rows && r.format === format && r.query === "SELECT *").peakRssMiB
    console.log(`${format}: peak RSS at ${large} rows / at ${small} rows = ${(peak(large) / peak(small)).toFixed(2)}`)
  }
}
console.log(`target: the peak at ${sizes.at(-1)} rows within 25 % of the peak at ${sizes[0]} rows, in every format`)
if (!process.argv.includes("--keep")) fs.rmSync(tmp, { recursive: true, force: true })
else console.log(`kept ${tmp}`)
