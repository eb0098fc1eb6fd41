#!/usr/bin/env node
// Concurrency check: many decomposeBatch calls in flight at once, from several async callers
// on the main thread and from two worker_threads (each loading the addon), must give exactly
// the results of the same calls made one at a time. Run under the sanitizer build by
// scripts/native-sanitize.sh; also fine on the release build.
//
//   node packages/fit-native/sanitize/concurrency.mjs [--rounds 2]
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads"
import { decompose, decomposeBatch } from "../dist/index.js"

/** mulberry32 */
const uniformFrom = (seed) => {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Job j: a cube of 1-5-line spectra with noise (and a few NaN channels), its params and threads. */
function job(j) {
  const u = uniformFrom(1000 + j)
  const gauss = () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u())
  const n = [424, 128, 1024, 300][j % 4]
  const count = 8 + Math.floor(u() * 24)
  const cube = new Float32Array(count * n)
  for (let s = 0; s < count; s++) {
    const comps = Array.from({ length: 1 + Math.floor(u() * 5) }, () => ({ a: 0.3 + 3 * u(), mu: n * u(), sd: 1 + 9 * u() }))
    for (let i = 0; i < n; i++) {
      let v = 0.25 * gauss()
      for (const c of comps) v += c.a * Math.exp(-((i - c.mu) ** 2) / (2 * c.sd * c.sd))
      cube[s * n + i] = u() < 0.005 ? NaN : v
    }
  }
  const params = [{}, { beta: 4 }, { max_refine_iter: 5, f_sep: 1.5 }, { snr_min: 2, mf_snr_min: 6 }][j % 4]
  return { cube, n, params, threads: 1 + (j % 3) }
}

const bits = (results) =>
  JSON.stringify(
    results.map((d) => [
      d.status,
      d.rms,
      d.nanChannels,
      d.components.map((c) => [c.amplitude, c.mean, c.stddev]),
      [d.residualRms, d.chi2Reduced, d.aicc],
      d.componentErrors.map((e) => [e.amplitude, e.mean, e.stddev].map(String))
    ])
  )

const JOBS = 12

async function runJobs(ids) {
  const out = {}
  for (const j of ids) {
    const { cube, n, params, threads } = job(j)
    out[j] = bits(await decomposeBatch(cube, n, params, { threads, timeoutMs: 0 }))
  }
  return out
}

if (!isMainThread) {
  // A worker runs every job, all in flight at once, and reports its bits.
  const ids = workerData.ids
  const results = await Promise.all(
    ids.map(async (j) => {
      const { cube, n, params, threads } = job(j)
      return [j, bits(await decomposeBatch(cube, n, params, { threads, timeoutMs: 0 }))]
    })
  )
  parentPort.postMessage(Object.fromEntries(results))
} else {
  const rounds = (() => {
    const i = process.argv.indexOf("--rounds")
    return i < 0 ? 2 : Number(process.argv[i + 1])
  })()
  const ids = Array.from({ length: JOBS }, (_, j) => j)
  const t0 = Date.now()
  // The reference: one call at a time, one thread, checked against decompose() per spectrum.
  const reference = {}
  for (const j of ids) {
    const { cube, n, params } = job(j)
    const seq = await decomposeBatch(cube, n, params, { threads: 1, timeoutMs: 0 })
    const single = Array.from({ length: cube.length / n }, (_, s) => decompose(cube.subarray(s * n, (s + 1) * n), params))
    if (bits(seq) !== bits(single)) throw new Error(`job ${j}: decomposeBatch differs from decompose()`)
    reference[j] = bits(seq)
  }
  let calls = 0
  for (let r = 0; r < rounds; r++) {
    // Two workers and four async callers on the main thread, all at once; a caller mutates
    // the cube right after each call (the call must have copied it).
    const workers = [0, 1].map(
      (w) =>
        new Promise((resolve, reject) => {
          const worker = new Worker(new URL(import.meta.url), { workerData: { ids: w ? [...ids].reverse() : ids } })
          worker.once("message", resolve)
          worker.once("error", reject)
          worker.once("exit", (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)))
        })
    )
    const callers = [0, 1, 2, 3].map(async (c) => {
      const mine = ids.filter((j) => j % 4 === c).concat(ids.filter((j) => j % 4 !== c).slice(0, 3))
      const pending = mine.map((j) => {
        const { cube, n, params, threads } = job(j)
        const p = decomposeBatch(cube, n, params, { threads, timeoutMs: 0 })
        cube.fill(Number.NaN)
        return p.then((res) => [j, bits(res)])
      })
      return Promise.all(pending)
    })
    const main = (await Promise.all(callers)).flat()
    const fromWorkers = await Promise.all(workers)
    for (const [j, b] of main) {
      if (b !== reference[j]) throw new Error(`round ${r}: job ${j} from an async caller differs from the sequential result`)
      calls++
    }
    for (const res of fromWorkers) {
      for (const j of ids) {
        if (res[j] !== reference[j]) throw new Error(`round ${r}: job ${j} from a worker differs from the sequential result`)
        calls++
      }
    }
    // and a sequential pass again, after all that
    const again = await runJobs(ids)
    for (const j of ids) if (again[j] !== reference[j]) throw new Error(`round ${r}: job ${j} changed`)
  }
  console.log(`concurrency: ${calls} concurrent decomposeBatch calls (${rounds} rounds, async callers + 2 worker_threads) identical to sequential in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
}
