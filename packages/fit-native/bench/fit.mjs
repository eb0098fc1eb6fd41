#!/usr/bin/env node
// Accuracy and speed of the native decomposer (a benchmark, not a test).
//
//   npm run bench:fit [-- --n 50] [--seeds 1,2,3] [--low-noise-seed 1] [--threads N]
//                     [--skip-speed] [--skip-accuracy]
//
// Accuracy: synthetic cubes from bench/synth.mjs (seeds 1, 2, 3 at sigma 0.25 and seed 1 at
// sigma 0.13, 50 spectra per category), scored with bench/score.mjs (Lindner F1, overall and
// per category). Speed: per-spectrum time of `decompose` on one thread (mean, median, p95,
// p99) on the seed-1 cube (--n spectra per category) and on the GRS 5x5 field, then
// decomposeBatch throughput on 1 thread and on all threads (best of 3 runs each).
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { availableParallelism, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

import { decompose, decomposeBatch, NATIVE_VERSION } from "../dist/index.js"

const here = fileURLToPath(new URL(".", import.meta.url))
const root = join(here, "..", "..", "..")
const synth = join(root, "bench", "synth.mjs")
const { scoreSpectrum, prf } = await import(join(root, "bench", "score.mjs"))
const grsPath = [join(root, "examples", "grs-5x5.fits"), join(root, "..", "shared", "data", "grs-test_field_5x5.fits")]

function parseArgs(argv) {
  const o = { n: 50, seeds: "1,2,3", lowNoiseSeed: "1", threads: availableParallelism(), speed: true, accuracy: true }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === "--n") o.n = Number(argv[++i])
    else if (a === "--seeds") o.seeds = argv[++i]
    else if (a === "--low-noise-seed") o.lowNoiseSeed = argv[++i]
    else if (a === "--threads") o.threads = Number(argv[++i])
    else if (a === "--skip-speed") o.speed = false
    else if (a === "--skip-accuracy") o.accuracy = false
    else throw new Error(`unknown argument ${a}`)
  }
  if (!Number.isInteger(o.n) || o.n < 1) throw new Error("--n must be a positive integer")
  return o
}

/** Primary HDU, BITPIX -32 big-endian, 2880-byte blocks; returns axes and the raw data. */
export function readFits(path) {
  const buf = readFileSync(path)
  const cards = {}
  let offset = 0
  for (let done = false; !done; offset += 2880) {
    for (let c = 0; c < 36; c++) {
      const card = buf.toString("ascii", offset + c * 80, offset + c * 80 + 80)
      const key = card.slice(0, 8).trim()
      if (key === "END") done = true
      if (card[8] === "=") cards[key] = card.slice(10).split("/")[0].trim().replace(/^'|'$/g, "").trim()
    }
  }
  if (Number(cards.BITPIX) !== -32) throw new Error(`${path}: BITPIX ${cards.BITPIX} is not -32`)
  const [nx, ny, nz] = [1, 2, 3].map((k) => Number(cards[`NAXIS${k}`]))
  const scale = cards.BSCALE === undefined ? 1 : Number(cards.BSCALE)
  const zero = cards.BZERO === undefined ? 0 : Number(cards.BZERO)
  const view = new DataView(buf.buffer, buf.byteOffset + offset, nx * ny * nz * 4)
  /** spectrum-major cube [y][x][channel] */
  const cube = new Float32Array(nx * ny * nz)
  for (let y = 0; y < ny; y++)
    for (let x = 0; x < nx; x++)
      for (let c = 0; c < nz; c++)
        cube[(y * nx + x) * nz + c] = view.getFloat32(4 * (c * nx * ny + y * nx + x), false) * scale + zero
  return { nx, ny, nz, cube, cards }
}

function stats(ms) {
  const s = [...ms].sort((a, b) => a - b)
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))]
  return { mean: s.reduce((a, b) => a + b, 0) / s.length, median: q(0.5), p95: q(0.95), p99: q(0.99), max: s[s.length - 1] }
}
const fmt = (x, d = 3) => x.toFixed(d)

async function accuracy(dir, seed, noise, threads) {
  const fits = join(dir, `s${seed}-${noise}.fits`)
  const truthPath = join(dir, `s${seed}-${noise}.truth.json`)
  execFileSync(process.execPath, [synth, "--seed", String(seed), "--noise", String(noise), "--out", fits, "--truth", truthPath], { stdio: "ignore" })
  const { nx, nz, cube } = readFits(fits)
  const truth = JSON.parse(readFileSync(truthPath, "utf8"))
  const results = await decomposeBatch(cube, nz, {}, { threads, timeoutMs: 0 })
  const acc = new Map([["overall", [0, 0, 0]], ...truth.categories.map((c) => [c, [0, 0, 0]])])
  for (const s of truth.spectra) {
    const r = scoreSpectrum(s.components, results[s.y * nx + s.x].components)
    for (const key of ["overall", s.category]) {
      const a = acc.get(key)
      a[0] += r.nCorrect
      a[1] += r.nTrue
      a[2] += r.nDet
    }
  }
  return Object.fromEntries([...acc].map(([k, [c, t, d]]) => [k, prf(c, t, d)]))
}

function perSpectrum(cube, nz) {
  const n = cube.length / nz
  const ms = new Array(n)
  for (let s = 0; s < n; s++) {
    const spectrum = cube.subarray(s * nz, (s + 1) * nz)
    const t0 = process.hrtime.bigint()
    decompose(spectrum)
    ms[s] = Number(process.hrtime.bigint() - t0) / 1e6
  }
  return stats(ms)
}

/** Spectra per second, the best of `runs` runs (other load on the machine only slows a run). */
async function throughput(cube, nz, threads, runs = 3) {
  let best = 0
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint()
    await decomposeBatch(cube, nz, {}, { threads, timeoutMs: 0 })
    const s = Number(process.hrtime.bigint() - t0) / 1e9
    best = Math.max(best, cube.length / nz / s)
  }
  return best
}

async function main() {
  const o = parseArgs(process.argv.slice(2))
  const dir = mkdtempSync(join(tmpdir(), "phs-bench-fit-"))
  console.log(`phs fit-native ${NATIVE_VERSION} — node ${process.version}, ${availableParallelism()} CPUs`)
  try {
    if (o.accuracy) {
      const sets = o.seeds.split(",").filter(Boolean).map((s) => ({ seed: Number(s), noise: 0.25 }))
      if (o.lowNoiseSeed) sets.push({ seed: Number(o.lowNoiseSeed), noise: 0.13 })
      const cats = ["SB", "SF", "SN", "SBd", "MS", "MB", "C"]
      console.log("\nF1 (Lindner criteria; precision / recall overall)")
      console.log(`dataset          overall  ${cats.map((c) => c.padStart(6)).join(" ")}    P      R`)
      for (const { seed, noise } of sets) {
        const r = await accuracy(dir, seed, noise, o.threads)
        console.log(
          `seed ${seed} σ=${noise.toFixed(2)}    ${fmt(r.overall.f1)}  ${cats.map((c) => fmt(r[c].f1).padStart(6)).join(" ")}  ` +
            `${fmt(r.overall.precision)}  ${fmt(r.overall.recall)}`
        )
      }
      console.log(`reference        0.910   0.980  0.875  0.971  0.952  0.969  0.782  0.907`)
    }
    if (o.speed) {
      const fits = join(dir, `speed-n${o.n}.fits`)
      execFileSync(process.execPath, [synth, "--seed", "1", "--n", String(o.n), "--out", fits, "--truth", join(dir, "speed.json")], { stdio: "ignore" })
      const synthCube = readFits(fits)
      const grsFile = grsPath.find((p) => {
        try {
          readFileSync(p)
          return true
        } catch {
          return false
        }
      })
      const grs = readFits(grsFile)
      const nSynth = synthCube.cube.length / synthCube.nz
      console.log("\nper-spectrum time, decompose() on 1 thread (ms)")
      console.log("dataset                   spectra    mean  median     p95     p99     max")
      for (const [name, d] of [[`synthetic seed 1`, synthCube], ["GRS 5x5", grs]]) {
        perSpectrum(d.cube, d.nz) // warm-up
        const s = perSpectrum(d.cube, d.nz)
        const n = d.cube.length / d.nz
        console.log(
          `${name.padEnd(24)} ${String(n).padStart(8)}  ${[s.mean, s.median, s.p95, s.p99, s.max].map((v) => fmt(v).padStart(6)).join("  ")}`
        )
      }
      // Throughput on at least 2800 spectra (the cube repeated), so thread start-up is noise.
      const copies = Math.max(1, Math.ceil(2800 / nSynth))
      const tiled = new Float32Array(synthCube.cube.length * copies)
      for (let k = 0; k < copies; k++) tiled.set(synthCube.cube, k * synthCube.cube.length)
      const one = await throughput(tiled, synthCube.nz, 1)
      const all = await throughput(tiled, synthCube.nz, o.threads)
      console.log(`\ndecomposeBatch on synthetic seed 1 (${nSynth * copies} spectra)`)
      console.log(`1 thread:   ${one.toFixed(0)} spectra/s`)
      console.log(`${o.threads} threads:  ${all.toFixed(0)} spectra/s  (speedup ${(all / one).toFixed(2)}×)`)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
