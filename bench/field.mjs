#!/usr/bin/env node
// Benchmark of the spatially coherent refit (docs/algorithm.md, "Spatially coherent refit")
// on synthetic fields of ../shared/bench/synth-field.mjs, scored by field-score.mjs, and on
// the real GRS fields: each field is decomposed (decomposeBatch), then refitted (as blocks
// with a halo with --block N, else whole maps: the same rows either way), and both are scored.
//   npm run bench:field [-- --seeds 1-9 --holdout 10-17 --noisy 18 --size 48 --block 16 --options '{"passes":3}']
// Seed lists are comma-separated seeds or ranges (1-3,5); an empty list ("") skips the group.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { decomposeBatch, DEFAULT_PARAMS } from "@phs/fit-native"
import { DEFAULT_REFIT_OPTIONS, refitBlock } from "@phs/core/refit"

const here = path.dirname(fileURLToPath(import.meta.url))
const shared = path.resolve(here, "..", "..", "shared")
const benchDir = fs.existsSync(path.join(shared, "bench")) ? path.join(shared, "bench") : path.resolve(here, "..", "..", "..", "shared", "bench")
const dataDir = path.join(path.dirname(benchDir), "data")
const { scoreSpectrum, prf } = await import(pathToFileURL(path.join(benchDir, "score.mjs")).href)
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : fallback
}
const list = (s) =>
  (s ? s.split(",").filter(Boolean) : []).flatMap((part) => {
    const m = /^(\d+)-(\d+)$/.exec(part)
    if (m) return Array.from({ length: Math.max(0, Number(m[2]) - Number(m[1]) + 1) }, (_, i) => Number(m[1]) + i)
    if (!/^\d+$/.test(part)) {
      console.error(`bench:field: bad seed list ${JSON.stringify(s)} (seeds or ranges, e.g. 1-3,5)`)
      process.exit(2)
    }
    return [Number(part)]
  })
// seeds 1-18 (7 and 18 also at σ 0.5) were used in tuning; 19-27 and 28-36 (27 and 36 at σ 0.5) were
// looked at once each; round 5 tuned on 1-30 and 45 at σ 0.5 and looked once at 46-57: seeds up to
// 57 are all seen, the next fresh ones are 58 on (docs/algorithm.md)
const tuned = list(arg("seeds", "1-9"))
const holdout = list(arg("holdout", "10-17"))
const noisy = list(arg("noisy", "18"))
const size = Number(arg("size", 48))
const blockSize = Number(arg("block", 0)) || Infinity
const refitOptions = { ...DEFAULT_REFIT_OPTIONS, ...JSON.parse(arg("options", "{}")) }
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "phs-field-"))

/** A FITS cube (primary HDU, BITPIX -32/-64) as spectrum-major float32 [ny][nx][channels]. */
const readCube = (file) => {
  const buf = fs.readFileSync(file)
  const cards = new Map()
  let off = 0
  for (let end = false; !end; off += 2880) {
    for (let i = 0; i < 36; i++) {
      const c = buf.toString("latin1", off + 80 * i, off + 80 * i + 80)
      if (c.startsWith("END ") || c.trimEnd() === "END") end = true
      const m = /^([A-Z0-9_-]{1,8})\s*=\s*([^/]*)/.exec(c)
      if (m && !cards.has(m[1])) cards.set(m[1], m[2].trim())
    }
  }
  const bitpix = Number(cards.get("BITPIX"))
  const [nx, ny, nc] = [1, 2, 3].map((i) => Number(cards.get(`NAXIS${i}`)))
  const bscale = Number(cards.get("BSCALE") ?? 1)
  const bzero = Number(cards.get("BZERO") ?? 0)
  const bytes = bitpix === -32 ? 4 : 8
  const cube = new Float32Array(nx * ny * nc)
  for (let c = 0; c < nc; c++) {
    for (let p = 0; p < nx * ny; p++) {
      const at = off + bytes * (c * nx * ny + p)
      const v = bitpix === -32 ? buf.readFloatBE(at) : buf.readDoubleBE(at)
      cube[p * nc + c] = v * bscale + bzero
    }
  }
  return { nx, ny, nc, cube }
}

const toRow = (p, nx, d) => {
  const deferred = d.status === "timeout"
  return {
    x: p % nx, y: Math.floor(p / nx), beta: DEFAULT_PARAMS.beta,
    rms: d.rms !== null && Number.isFinite(d.rms) ? d.rms : null,
    min_persistence: Number.isFinite(d.minPersistence) ? d.minPersistence : null,
    n_components: deferred ? -1 : d.components.length,
    component_amplitudes: d.components.map((c) => c.amplitude),
    component_means: d.components.map((c) => c.mean),
    component_stddevs: d.components.map((c) => c.stddev),
    nan_channels: d.nanChannels, residual_rms: d.residualRms, chi2_reduced: d.chi2Reduced, aicc: d.aicc,
    component_amplitude_errors: d.componentErrors.map((e) => e.amplitude),
    component_mean_errors: d.componentErrors.map((e) => e.mean),
    component_stddev_errors: d.componentErrors.map((e) => e.stddev),
    run_id: "bench"
  }
}

/** Refits the whole map block by block, each block given its halo of rows only. */
const refitField = ({ nx, ny, nc, cube }, rows, block) => {
  const halo = refitOptions.passes * refitOptions.radius
  const out = new Array(rows.length)
  const flagged = {}
  let refitted = 0
  let fits = 0
  let skipped = null
  for (let by = 0; by < ny; by += block) {
    for (let bx = 0; bx < nx; bx += block) {
      const b = { x0: bx, y0: by, nx: Math.min(block, nx - bx), ny: Math.min(block, ny - by) }
      const mine = []
      for (let y = Math.max(0, by - halo); y < Math.min(ny, by + b.ny + halo); y++) {
        for (let x = Math.max(0, bx - halo); x < Math.min(nx, bx + b.nx + halo); x++) mine.push(rows[y * nx + x])
      }
      const r = refitBlock({
        map: { nx, ny }, block: b, rows: mine, params: DEFAULT_PARAMS, options: refitOptions,
        spectrum: (x, y) => cube.subarray((y * nx + x) * nc, (y * nx + x + 1) * nc)
      })
      for (const row of r.rows) out[row.y * nx + row.x] = row
      for (const [f, n] of Object.entries(r.flagged)) flagged[f] = (flagged[f] ?? 0) + n
      refitted += r.refitted
      fits += r.fits
      skipped = r.skipped
    }
  }
  return { rows: out, flagged, refitted, fits, skipped }
}

const predOf = (rows) => ({
  spectra: rows.map((r) => ({ x: r.x, y: r.y, components: r.component_means.map((mean, i) => ({ amplitude: r.component_amplitudes[i], mean, stddev: r.component_stddevs[i] })) }))
})

const score = (truthFile, truth, rows) => {
  const predFile = path.join(tmp, `pred-${process.hrtime.bigint()}.json`)
  fs.writeFileSync(predFile, JSON.stringify(predOf(rows)))
  const r = spawnSync(process.execPath, [path.join(benchDir, "field-score.mjs"), truthFile, predFile], { encoding: "utf8" })
  if (r.status !== 0) throw new Error(r.stderr)
  const s = JSON.parse(r.stdout.trim().split("\n").at(-1))
  const pred = predOf(rows).spectra
  const at = new Map(pred.map((p) => [`${p.x},${p.y}`, p.components]))
  const cats = {}
  for (const t of truth.spectra) {
    const c = (cats[t.category] ??= { correct: 0, nTrue: 0, nDet: 0 })
    const d = at.get(`${t.x},${t.y}`) ?? []
    c.correct += scoreSpectrum(t.components, d).nCorrect
    c.nTrue += t.components.length
    c.nDet += d.length
  }
  s.categories = Object.fromEntries(Object.entries(cats).sort().map(([k, c]) => [k, prf(c.correct, c.nTrue, c.nDet).f1]))
  return s
}

const jumpRate = (rows, nx, ny) => {
  let pairs = 0, jumps = 0
  for (const r of rows) {
    for (const [dx, dy] of [[1, 0], [0, 1]]) {
      if (r.x + dx >= nx || r.y + dy >= ny) continue
      pairs++
      if (rows[(r.y + dy) * nx + r.x + dx].n_components !== r.n_components) jumps++
    }
  }
  return pairs ? jumps / pairs : 0
}
const medianChi2 = (rows) => {
  const v = rows.map((r) => r.chi2_reduced).filter((x) => x !== null).sort((a, b) => a - b)
  return v.length ? v[v.length >> 1] : null
}

// CPU seconds: the decomposition runs on every core, the refit here on one
const cpuSeconds = (since) => {
  const u = process.cpuUsage(since)
  return (u.user + u.system) / 1e6
}

const runField = async (label, field, truthFile) => {
  const t0 = process.cpuUsage()
  const ds = await decomposeBatch(field.cube, field.nc, DEFAULT_PARAMS)
  const tDec = cpuSeconds(t0)
  const rows = ds.map((d, p) => toRow(p, field.nx, d))
  const t1 = process.cpuUsage()
  const rf = refitField(field, rows, blockSize)
  const tRef = cpuSeconds(t1)
  // the flag each refitted row names: which flags' refits were accepted
  const accepted = {}
  for (const r of rf.rows) if (r.refit !== null) accepted[r.refit] = (accepted[r.refit] ?? 0) + 1
  const out = { label, spectra: rows.length, decomposeS: tDec, refitS: tRef, refitted: rf.refitted, fits: rf.fits, flagged: rf.flagged, accepted, skipped: rf.skipped,
    jumpRate: [jumpRate(rows, field.nx, field.ny), jumpRate(rf.rows, field.nx, field.ny)], medianChi2: [medianChi2(rows), medianChi2(rf.rows)] }
  if (truthFile) {
    const truth = JSON.parse(fs.readFileSync(truthFile, "utf8"))
    out.without = score(truthFile, truth, rows)
    out.with = score(truthFile, truth, rf.rows)
  }
  return out
}

const pct = (x) => `${(100 * x).toFixed(1)} %`
const print = (r) => {
  console.log(`${r.label}: ${r.spectra} spectra, CPU decompose ${r.decomposeS.toFixed(1)} s, refit ${r.refitS.toFixed(1)} s (${(r.refitS / r.decomposeS).toFixed(2)}× the decomposition, ${r.fits} guesses fitted), ${r.refitted} refitted${r.skipped ? ` (${r.skipped})` : ""} ${JSON.stringify(r.accepted)}; flagged ${JSON.stringify(r.flagged)}`)
  console.log(`  jump rate ${pct(r.jumpRate[0])} → ${pct(r.jumpRate[1])}, median χ²red ${r.medianChi2[0]?.toFixed(3)} → ${r.medianChi2[1]?.toFixed(3)}`)
  if (r.without) {
    for (const [name, s] of [["without", r.without], ["with   ", r.with]]) {
      console.log(`  ${name} refit: F1 ${s.f1.toFixed(3)} (P ${s.precision.toFixed(3)} R ${s.recall.toFixed(3)}), count exact ${pct(s.count_exact)}, jump excess ${pct(s.jump_excess)}; per category ${Object.entries(s.categories).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(" ")}`)
    }
  }
}

console.log(`refit benchmark: ${size}×${size} fields, ${Number.isFinite(blockSize) ? `${blockSize}×${blockSize} blocks` : "whole maps (the same rows as blocks)"}, options ${JSON.stringify(refitOptions)}, ${os.availableParallelism()} cores`)
const summary = {}
for (const [group, seeds, noise] of [["tuned", tuned, 0.25], ["held out", holdout, 0.25], ["noisy", noisy, 0.5]]) {
  const res = []
  for (const seed of seeds) {
    const f = path.join(tmp, `f${seed}-${noise}.fits`), t = path.join(tmp, `f${seed}-${noise}.truth.json`)
    const g = spawnSync(process.execPath, [path.join(benchDir, "synth-field.mjs"), "--seed", String(seed), "--nx", String(size), "--ny", String(size), "--noise", String(noise), "--out", f, "--truth", t], { encoding: "utf8" })
    if (g.status !== 0) throw new Error(g.stderr)
    const r = await runField(`seed ${seed} σ ${noise} (${group})`, readCube(f), t)
    print(r)
    res.push(r)
  }
  if (res.length) {
    const mean = (fn) => res.reduce((a, r) => a + fn(r), 0) / res.length
    summary[group] = { dF1: mean((r) => r.with.f1 - r.without.f1), jumpRatio: mean((r) => r.with.jump_excess) / mean((r) => r.without.jump_excess),
      worstCategoryDrop: Math.max(...res.flatMap((r) => Object.keys(r.without.categories).map((k) => r.without.categories[k] - (r.with.categories[k] ?? 0)))) }
  }
}
for (const [g, s] of Object.entries(summary)) console.log(`${g}: mean ΔF1 ${s.dF1.toFixed(3)} (target ≥ +0.04), jump excess with/without ${s.jumpRatio.toFixed(2)} (target ≤ 0.5), worst category F1 drop ${s.worstCategoryDrop.toFixed(3)} (target ≤ 0.01)`)
for (const name of ["grs-test_field_5x5.fits", "grs-test_field_3x3.fits"]) {
  const f = path.join(dataDir, name)
  if (fs.existsSync(f)) print(await runField(`GRS ${name}`, readCube(f), null))
}
fs.rmSync(tmp, { recursive: true, force: true })
