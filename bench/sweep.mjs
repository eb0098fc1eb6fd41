#!/usr/bin/env node
// A β sweep on a synthetic cube the size of a GRS tile (~116k spectra × 424 channels, as
// bench/pipeline.mjs makes it) against one run of the same cube: wall time of each, and
// the sweep's cost in runs, how its fits were shared, and each point's time (split to
// catalog, from the run table). Then `phs tune --synthetic` on the same cube (F1 against β).
//   npm run bench:sweep [-- --n 16600 --points 2:5:0.25 --keep]
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const phs = path.join(here, "..", "packages", "cli", "bin", "phs.js")
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : fallback
}
const n = Number(arg("n", 16600))
const grid = `beta=${arg("points", "2:5:0.25")}`
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "phs-bench-sweep-"))
const cube = path.join(tmp, `synth-${n}.fits`)

const run = (args) => {
  const t0 = Date.now()
  const r = spawnSync(process.execPath, [phs, ...args], { encoding: "utf8", maxBuffer: 1 << 26, stdio: ["ignore", "pipe", "inherit"] })
  const seconds = (Date.now() - t0) / 1000
  if (r.status !== 0) throw new Error(`phs ${args.join(" ")} failed (${r.status})`)
  return { seconds, out: JSON.parse(r.stdout) }
}

const load = () => os.loadavg().map((l) => l.toFixed(1)).join(" ")
console.log(`phs sweep benchmark on ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? "?"}), node ${process.version}, load ${load()}`)
const gen = spawnSync(process.execPath, [path.join(here, "synth.mjs"), "--seed", "1", "--n", String(n), "--out", cube, "--truth", path.join(tmp, "truth.json")], { encoding: "utf8" })
if (gen.status !== 0) throw new Error(gen.stderr)

const one = run(["pipeline", cube, "--survey", "bench", "--workdir", path.join(tmp, "w1"), "--json"])
console.log(`  one run: ${one.out.nSpectra} spectra in ${one.seconds.toFixed(1)} s`)
fs.rmSync(path.join(tmp, "w1"), { recursive: true, force: true })

const sweepDir = path.join(tmp, "w")
const sweep = run(["sweep", cube, "--survey", "bench", "--param", grid, "--workdir", sweepDir, "--json", "--plot", path.join(tmp, "sweep.svg")])
const k = sweep.out.points.length
console.log(`  sweep of ${k} points (${grid}): ${sweep.seconds.toFixed(1)} s = ${(sweep.seconds / one.seconds).toFixed(2)} × one run (goal ≤ 8 ×); load ${load()}`)
const f = sweep.out.fits
console.log(`  chunks fitted for every point at once ${f.chunksFittedForAll}, answered from those ${f.chunksAnswered}, fitted alone ${f.chunksFittedAlone}`)
const runs = new Map(run(["runs", "--workdir", sweepDir, "--json"]).out.map((r) => [r.runId, r]))
const perPoint = sweep.out.points.map((p) => {
  const r = runs.get(p.runId)
  return { ...p.params, seconds: r === undefined ? null : Number(((r.updatedAt - r.createdAt) / 1000).toFixed(1)) }
})
console.log("  each point's run, split to catalog (the first fits for all):")
console.table(perPoint)
const again = run(["sweep", cube, "--survey", "bench", "--param", grid, "--workdir", sweepDir, "--json", "--plot", path.join(tmp, "sweep.svg")])
console.log(`  the same sweep again (every run returned): ${again.seconds.toFixed(1)} s`)
console.table(sweep.out.points.map((p) => ({ ...p.params, mean_n: p.mean_components, median_n: p.median_components, std_n: p.stddev_components, chi2_red: p.mean_chi2_reduced, noise_ok: p.noise_consistent_fraction })))
if (!process.argv.includes("--keep")) fs.rmSync(sweepDir, { recursive: true, force: true })

const tune = run(["tune", cube, "--synthetic", "--param", grid, "--json", "--plot", path.join(tmp, "tune.svg")])
console.log(`  tune --synthetic: ${tune.seconds.toFixed(1)} s; ${tune.out.recommendation}`)
console.table(tune.out.points.map((p) => ({ ...p.params, f1: p.f1, precision: p.precision, recall: p.recall })))
if (!process.argv.includes("--keep")) fs.rmSync(tmp, { recursive: true, force: true })
else console.log(`  kept ${tmp}`)
