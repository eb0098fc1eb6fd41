#!/usr/bin/env node
// Memory of `phs query` over a large table: peak RSS of `SELECT *` in every output format,
// against a `count(*)` baseline, for a synthetic table of --rows rows (default 300,000,
// 0–6 components each) written by core's Parquet writer into a scratch workdir.
//   npm run bench:query [-- --rows 300000 --part-rows 100000 --keep]
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const phs = path.join(here, "..", "packages", "cli", "bin", "phs.js")
const { encodeRows } = await import(pathToFileURL(path.join(here, "..", "packages", "core", "dist", "ResultParquet.js")).href)
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const total = arg("rows", 300_000)
const partRows = arg("part-rows", 100_000)
const nx = 1000

// A small deterministic generator (xorshift32): the table is the same on every run.
let state = 2463534242
const random = () => {
  state ^= state << 13
  state ^= state >>> 17
  state ^= state << 5
  return (state >>> 0) / 2 ** 32
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "phs-bench-query-"))
const workdir = path.join(tmp, "w")
const dir = path.join(workdir, "blobs", "decompositions", "survey=bench")
fs.mkdirSync(dir, { recursive: true })
const runId = "bench-0000000000000000"
for (let part = 0, p = 0; p < total; part++) {
  const rows = []
  for (let end = Math.min(total, p + partRows); p < end; p++) {
    const n = Math.floor(random() * 7)
    const list = (f) => Array.from({ length: n }, f)
    rows.push({
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
    })
  }
  fs.writeFileSync(path.join(dir, `${runId}-${String(part).padStart(4, "0")}.parquet`), encodeRows(rows))
}
const tableMiB = fs.readdirSync(dir).reduce((a, f) => a + fs.statSync(path.join(dir, f)).size, 0) / 2 ** 20

/** Runs `phs query SQL --format F > /dev/null` under /usr/bin/time: wall seconds and peak RSS (MiB). */
const measure = (sql, format) => {
  const t0 = Date.now()
  const r = spawnSync("/usr/bin/time", ["-f", "%M", process.execPath, phs, "query", sql, "--format", format, "--workdir", workdir], {
    encoding: "utf8",
    stdio: ["ignore", "ignore", "pipe"]
  })
  const wallS = (Date.now() - t0) / 1000
  const lines = r.stderr.trimEnd().split("\n")
  if (r.status !== 0) throw new Error(`phs query failed (${r.status}): ${lines.slice(0, -1).join("\n")}`)
  return { wallS, peakRssMiB: Math.round(Number(lines.at(-1)) / 1024) }
}

console.log(`phs query benchmark: ${total} rows in ${fs.readdirSync(dir).length} parts (${tableMiB.toFixed(1)} MiB), node ${process.version}`)
const results = []
const base = measure("SELECT count(*) AS n FROM decompositions", "table")
results.push({ query: "count(*)", format: "table", ...base, perRowBytes: "" })
for (const format of (process.env.PHS_BENCH_FORMATS ?? "table,csv,json,ndjson").split(",")) {
  const m = measure("SELECT * FROM decompositions", format)
  const perRow = Math.max(0, ((m.peakRssMiB - base.peakRssMiB) * 2 ** 20) / total)
  results.push({ query: "SELECT *", format, ...m, perRowBytes: perRow.toFixed(0) })
  console.log(`  SELECT * --format ${format}: ${m.wallS.toFixed(1)} s, peak RSS ${m.peakRssMiB} MiB (${perRow.toFixed(0)} B/row over the count(*) baseline of ${base.peakRssMiB} MiB)`)
}
console.table(results)
console.log("target: peak RSS of SELECT * within a fixed margin of the count(*) baseline, whatever the row count")
if (!process.argv.includes("--keep")) fs.rmSync(tmp, { recursive: true, force: true })
else console.log(`kept ${workdir}`)
