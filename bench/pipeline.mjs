#!/usr/bin/env node
// End-to-end benchmark of `phs pipeline` on synthetic cubes the size of a GRS tile
// (~116k spectra × 424 channels) and a quarter of it: wall time, spectra/s, peak RSS.
//   npm run bench:pipeline [-- --n 16600 --quarter 4150 --keep]
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
const sizes = [Number(arg("quarter", 4150)), Number(arg("n", 16600))]
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "phs-bench-"))

console.log(`phs pipeline benchmark on ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? "?"}), node ${process.version}`)
const rows = []
for (const n of sizes) {
  const cube = path.join(tmp, `synth-${n}.fits`)
  const t0 = Date.now()
  const gen = spawnSync(process.execPath, [path.join(here, "synth.mjs"), "--seed", "1", "--n", String(n), "--out", cube, "--truth", path.join(tmp, `synth-${n}.truth.json`)], { encoding: "utf8" })
  if (gen.status !== 0) throw new Error(gen.stderr)
  const genS = (Date.now() - t0) / 1000
  const workdir = path.join(tmp, `w-${n}`)
  const t1 = Date.now()
  const r = spawnSync(process.execPath, [phs, "pipeline", cube, "--survey", "bench", "--workdir", workdir, "--json"], { encoding: "utf8", maxBuffer: 1 << 26 })
  const wall = (Date.now() - t1) / 1000
  if (r.status !== 0) throw new Error(`phs failed (${r.status}): ${r.stderr}`)
  const out = JSON.parse(r.stdout)
  rows.push({ spectra: out.nSpectra, cubeMiB: Math.round(fs.statSync(cube).size / 2 ** 20), wallS: wall, perS: Math.round(out.nSpectra / wall), peakRssMiB: out.maxRssMiB, deferred: out.spectraDeferred, status: out.status })
  console.log(`  ${out.nSpectra} spectra (${rows.at(-1).cubeMiB} MiB cube, generated in ${genS.toFixed(1)} s): ${wall.toFixed(1)} s wall, ${rows.at(-1).perS} spectra/s, peak RSS ${out.maxRssMiB} MiB, ${out.spectraDeferred} deferred, ${out.status}`)
  if (!process.argv.includes("--keep")) fs.rmSync(workdir, { recursive: true, force: true })
}
console.table(rows)
console.log(`targets: 116k-spectrum cube ≤ 180 s, peak RSS ≤ 1024 MiB and flat across sizes`)
if (!process.argv.includes("--keep")) fs.rmSync(tmp, { recursive: true, force: true })
