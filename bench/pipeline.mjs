#!/usr/bin/env node
// End-to-end benchmark of `phs pipeline` on synthetic cubes of 29k, 116k (a GRS tile) and
// 465k spectra × 424 channels, each run in its own child process: wall time, CPU seconds
// (user + system, what to compare on a shared machine), spectra/s and peak RSS, then the two
// targets of docs/results.md (issue 15):
//   - memory flat in the cube's size: peak RSS of the largest within 25 % of the smallest;
//   - throughput: the pipeline at ≥ 90 % of decomposeBatch alone on the same cube, measured
//     in the same run (bench/fit-cube.mjs, a child process too).
//   npm run bench:pipeline [-- --n 4150,16600,66400 --compare 16600 --keep]
// (--n is spectra per synthetic category; a cube has 7 categories.)
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
const sizes = arg("n", "4150,16600,66400").split(",").map(Number)
const compare = Number(arg("compare", String(sizes[Math.min(1, sizes.length - 1)])))
const keep = process.argv.includes("--keep")
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "phs-bench-"))

/** CPU seconds (user + system) of this process's waited-for children, from /proc (null elsewhere). */
const childCpuS = () => {
  try {
    // fields after the command's ")": state is 3rd, cutime 16th, cstime 17th
    const fields = fs.readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ")
    return (Number(fields[13]) + Number(fields[14])) / 100
  } catch {
    return null
  }
}
let lastCpuS = null
const run = (args, what) => {
  const before = childCpuS()
  const r = spawnSync(process.execPath, args, { encoding: "utf8", maxBuffer: 1 << 26 })
  const after = childCpuS()
  lastCpuS = before === null || after === null ? null : after - before
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}): ${r.stderr}`)
  return r.stdout
}
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(" ")

console.log(`phs pipeline benchmark on ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? "?"}), node ${process.version}, load average ${load()}`)
const rows = []
let fit
for (const n of sizes) {
  const cube = path.join(tmp, `synth-${n}.fits`)
  const t0 = Date.now()
  run([path.join(here, "synth.mjs"), "--seed", "1", "--n", String(n), "--out", cube, "--truth", path.join(tmp, `synth-${n}.truth.json`)], "synth")
  const genS = (Date.now() - t0) / 1000
  const workdir = path.join(tmp, `w-${n}`)
  const t1 = Date.now()
  const out = JSON.parse(run([phs, "pipeline", cube, "--survey", "bench", "--workdir", workdir, "--json"], "phs pipeline"))
  const wall = (Date.now() - t1) / 1000
  const cpuS = lastCpuS
  const row = { spectra: out.nSpectra, cubeMiB: Math.round(fs.statSync(cube).size / 2 ** 20), wallS: wall, cpuS, perS: Math.round(out.nSpectra / wall), peakRssMiB: out.maxRssMiB, deferred: out.spectraDeferred, status: out.status }
  rows.push(row)
  console.log(`  ${row.spectra} spectra (${row.cubeMiB} MiB cube, generated in ${genS.toFixed(1)} s): ${wall.toFixed(1)} s wall, ${cpuS === null ? "?" : cpuS.toFixed(1)} s CPU, ${row.perS} spectra/s, peak RSS ${row.peakRssMiB} MiB, ${row.deferred} deferred, ${row.status} (load ${load()})`)
  if (n === compare) {
    fit = { ...JSON.parse(run([path.join(here, "fit-cube.mjs"), cube], "fit-cube")), pipelinePerS: row.perS, pipelineCpuS: cpuS, cpuS: lastCpuS }
    console.log(`  decomposeBatch alone on the same cube: ${fit.seconds.toFixed(1)} s, ${fit.cpuS === null ? "?" : fit.cpuS.toFixed(1)} s CPU (with reading the cube), ${fit.perS} spectra/s on ${fit.threads} threads`)
  }
  if (!keep) fs.rmSync(workdir, { recursive: true, force: true })
  if (!keep) fs.rmSync(cube, { force: true })
}
console.table(rows)
const smallest = rows[0]
const largest = rows.at(-1)
const rssRatio = largest.peakRssMiB / smallest.peakRssMiB
console.log(`memory: peak RSS ${largest.peakRssMiB} MiB at ${largest.spectra} spectra / ${smallest.peakRssMiB} MiB at ${smallest.spectra} = ${rssRatio.toFixed(2)} (target ≤ 1.25) ${rssRatio <= 1.25 ? "ok" : "MISSED"}`)
if (fit !== undefined) {
  const ratio = fit.pipelinePerS / fit.perS
  console.log(`throughput: pipeline ${fit.pipelinePerS} spectra/s / decomposeBatch ${fit.perS} spectra/s = ${ratio.toFixed(2)} (target ≥ 0.90) ${ratio >= 0.9 ? "ok" : "MISSED"}`)
  // On a loaded machine wall time says more about the load than the code: CPU compares.
  if (fit.cpuS !== null && fit.pipelineCpuS !== null) {
    const extra = fit.pipelineCpuS - fit.cpuS
    console.log(`CPU: pipeline ${fit.pipelineCpuS.toFixed(1)} s − decomposeBatch ${fit.cpuS.toFixed(1)} s = ${extra.toFixed(1)} s beyond the fitter's (${((100 * extra) / fit.cpuS).toFixed(1)} %; ratio 0.90 on 2 busy cores is ≤ 11 %)`)
  }
}
if (!keep) fs.rmSync(tmp, { recursive: true, force: true })
