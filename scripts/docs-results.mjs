#!/usr/bin/env node
// Regenerates the examples of docs/results.md from the bundled sample cube: runs the built
// `phs` on examples/grs-5x5.fits (at β = 3.5 and β = 2.5) in a temporary workdir, writes
// the pictures to docs/img/*.svg, and replaces each block of docs/results.md between
// `<!-- BEGIN generated:KEY -->` and `<!-- END generated:KEY -->` with real output.
//
//   npx tsc -b && node scripts/docs-results.mjs        (or: npm run docs:results)
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const bin = path.join(root, "packages/cli/bin/phs.js")
const dist = path.join(root, "packages/cli/dist")
const doc = path.join(root, "docs/results.md")
const img = path.join(root, "docs/img")
const sample = path.join(root, "examples/grs-5x5.fits")

if (!fs.existsSync(path.join(dist, "main.js"))) {
  console.error("docs-results: the CLI is not built; run npx tsc -b first")
  process.exit(1)
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "phs-docs-"))
const work = path.join(tmp, "w")

/** Runs phs; stops the script on failure. Returns stdout. */
const phs = (...args) => {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: tmp, encoding: "utf8" })
  if (r.status !== 0) {
    console.error(`docs-results: phs ${args.join(" ")} failed (${r.status}):\n${r.stderr}`)
    process.exit(1)
  }
  return r.stdout
}

phs("pipeline", sample, "--workdir", work, "--json")
phs("pipeline", sample, "--param", "beta=2.5", "--workdir", work, "--json")
const runs = JSON.parse(phs("runs", "--json", "--workdir", work))
const run = runs.find((r) => r.params.beta === 3.5)
const runId = run.runId

const blocks = {}
const shell = (command, output) => `\`\`\`console\n$ ${command}\n${output.replace(/\r\n/g, "\n").trimEnd()}\n\`\`\``

/** Quotes a shell argument for display. */
const q = (s) =>
  /^[\w@%+=:,./-]+$/.test(s) ? s : !s.includes("'") ? `'${s}'` : !/["$`\\!]/.test(s) ? `"${s}"` : `'${s.replace(/'/g, `'"'"'`)}'`

const query = (key, args) => {
  blocks[key] = shell(`phs query ${args.map(q).join(" ")}`, phs("query", ...args, "--workdir", work))
}

query("query-list", ["--list"])
query("query-beta", ["--named", "beta-comparison"])
query("query-rms", ["--named", "rms-distribution", "--format", "json"])
query("query-unnest", [
  `SELECT beta, count(*) AS components, round(avg(a), 3) AS mean_amplitude,
       approx_percentile(s, ARRAY[0.25, 0.5, 0.75]) AS sigma_quartiles
FROM phspectra.decompositions
CROSS JOIN UNNEST(component_amplitudes, component_stddevs) AS t(a, s)
WHERE survey = 'grs-5x5'
GROUP BY beta
ORDER BY beta`
])
query("query-ordinality", [
  `SELECT x, y, i, round(a, 3) AS amplitude, round(m, 1) AS mean
FROM decompositions
CROSS JOIN UNNEST(component_amplitudes, component_means) WITH ORDINALITY AS t(a, m, i)
WHERE run_id = '${runId}' AND y = 0 AND x < 2
ORDER BY x, i`
])
query("query-cardinality", [
  `SELECT cardinality(component_amplitudes) AS n, count(*) AS spectra
FROM decompositions WHERE run_id = '${runId}' GROUP BY 1 ORDER BY 1`,
  "--format",
  "csv"
])

const meta = (name) => fs.readFileSync(path.join(work, "blobs", "runs", runId, name), "utf8")
blocks.validation = `\`\`\`json\n${meta("_validation.json").trimEnd()}\n\`\`\``
blocks["stage-config"] = `\`\`\`json\n${meta("_stage_config.json").trimEnd()}\n\`\`\``
blocks.layout = `\`\`\`text\n${listTree(path.join(work, "blobs"))}\n\`\`\``

const { RESULT_COLUMNS, RESULT_TABLE } = await import(pathToFileURL(path.join(root, "packages/core/dist/ResultSchema.js")).href)
blocks.columns = [
  "| column | Athena type | DuckDB type | meaning |",
  "|---|---|---|---|",
  ...RESULT_COLUMNS.map((c) => `| \`${c.name}\` | \`${c.glue}\` | \`${c.duckdb}\` | ${c.doc}${c.nullable ? " (nullable)" : ""} |`),
  `| \`${RESULT_TABLE.partitionColumn.name}\` | \`${RESULT_TABLE.partitionColumn.glue}\` | \`${RESULT_TABLE.partitionColumn.duckdb}\` | ${RESULT_TABLE.partitionColumn.doc} (partition column, from the directory name) |`
].join("\n")

const { MACROS, MACRO_SCHEMA } = await import(pathToFileURL(path.join(dist, "query/PrestoDialectMacros.js")).href)
blocks.macros = [
  `| Athena | DuckDB (macro in schema \`${MACRO_SCHEMA}\`) | note |`,
  "|---|---|---|",
  ...MACROS.map((m) => `| \`${m.athena}\` | ${m.overloads.map((o) => `\`${m.name}${o.replace(/\|/g, "\\|")}\``).join("<br>")} | ${m.note ?? ""} |`)
].join("\n")

// Pictures: SVG, committed.
fs.mkdirSync(img, { recursive: true })
const picture = (name, ...args) => {
  const file = path.join(img, name)
  phs("plot", ...args, "--out", file, "--workdir", work)
  const kb = (fs.statSync(file).size / 1024).toFixed(0)
  console.log(`docs-results: wrote docs/img/${name} (${kb} KiB)`)
}
picture("spectrum.svg", "spectrum", runId, "0", "0")
picture("map-n_components.svg", "map", runId, "--value", "n_components")
picture("map-integrated.svg", "map", runId, "--value", "integrated")
picture("summary.svg", "summary", runId)

blocks["export"] = shell(`phs export ${runId} --fits maps`, phs("export", runId, "--fits", path.join(tmp, "maps"), "--workdir", work).split(tmp + path.sep).join(""))

// Fill the blocks of docs/results.md.
let text = fs.readFileSync(doc, "utf8")
const missing = []
for (const [key, body] of Object.entries(blocks)) {
  const re = new RegExp(`(<!-- BEGIN generated:${key} -->\\n)[\\s\\S]*?(<!-- END generated:${key} -->)`)
  if (!re.test(text)) missing.push(key)
  text = text.replace(re, (_, a, b) => `${a}${body}\n${b}`)
}
fs.writeFileSync(doc, text)
if (missing.length > 0) console.error(`docs-results: no block in docs/results.md for ${missing.join(", ")}`)
console.log(`docs-results: updated docs/results.md (run ${runId})`)
fs.rmSync(tmp, { recursive: true, force: true })

/** The files under a directory as an indented tree (directories first). */
function listTree(dir, indent = "") {
  const entries = fs.readdirSync(dir, { withFileTypes: true }).filter((e) => !e.name.startsWith("."))
  entries.sort((a, b) => Number(b.isDirectory()) - Number(a.isDirectory()) || a.name.localeCompare(b.name))
  return entries
    .map((e) => (e.isDirectory() ? `${indent}${e.name}/\n${listTree(path.join(dir, e.name), `${indent}  `)}` : `${indent}${e.name}`))
    .join("\n")
    .replace(/\n+$/, "")
}
