#!/usr/bin/env node
// Fuzz loop over the addon's whole surface: random and hostile spectra (NaN, ±Inf, denormals,
// 1e38, constants, zeros, steps, spikes, 0..5000 channels) with random parameters within their
// ranges, through decompose (Float32 and Float64), decomposeBatch and the step exports.
// Every result is checked against the documented invariants; any violation throws. Meant to
// run under the sanitizer build (scripts/native-sanitize.sh), where a memory or UB error
// aborts the process.
//
//   node packages/fit-native/sanitize/fuzz.mjs [--cases 3000] [--seed 1] [--budget-ms 100]
import { DEFAULT_PARAMS, PARAM_RANGES, __internal, decompose, decomposeBatch } from "../dist/index.js"

const args = process.argv.slice(2)
const option = (name, fallback) => {
  const i = args.indexOf(name)
  if (i < 0) return fallback
  const v = Number(args[i + 1])
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer`)
  return v
}
const cases = option("--cases", 3000)
const seed = option("--seed", 1)
// Per-spectrum budget: hostile shapes (a 1e6 step in noise, spikes of 1e38) can need many
// seconds of fitting; the budget keeps the loop fast and exercises the timeout path too.
const budgetMs = option("--budget-ms", 100)

/** mulberry32 */
const rng = ((s) => () => {
  s = (s + 0x6d2b79f5) >>> 0
  let t = s
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
})(seed * 2654435761)
const uniform = (a, b) => a + (b - a) * rng()
const int = (a, b) => a + Math.floor(rng() * (b - a + 1))
const pick = (xs) => xs[Math.floor(rng() * xs.length)]
const logUniform = (a, b) => Math.exp(uniform(Math.log(a), Math.log(b)))
const gauss = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng())

const WILD = [0, -0, 1e-310, -1e-310, 1e-45, 5e-324, 1e38, -1e38, 3.4e38, 1e300, -1e300, NaN, Infinity, -Infinity, 1, -1]

function randomParams() {
  if (rng() < 0.4) return {}
  const p = {}
  for (const [name, r] of Object.entries(PARAM_RANGES)) {
    if (rng() < 0.4) continue
    let v
    const mode = rng()
    if (mode < 0.15) v = r.minExclusive ? r.min + 1e-6 : r.min
    else if (mode < 0.25) v = r.max
    else if (mode < 0.6) v = DEFAULT_PARAMS[name] * uniform(0.5, 2)
    else v = uniform(r.minExclusive ? r.min + 1e-6 : r.min, name === "max_refine_iter" ? r.max : Math.min(r.max, 20))
    if (r.integer) v = Math.round(v)
    p[name] = Math.min(r.max, Math.max(r.minExclusive ? r.min + 1e-6 : r.min, v))
  }
  return p
}

function randomLength() {
  const m = rng()
  if (m < 0.15) return int(0, 12)
  if (m < 0.45) return 424
  if (m < 0.85) return int(13, 1200)
  return int(1201, 5000)
}

function randomSpectrum(n) {
  const f = new Float64Array(n)
  const kind = pick(["lines", "lines", "lines", "zeros", "constant", "step", "spikes", "ramp", "wild", "lines+wild"])
  const noise = rng() < 0.1 ? 0 : logUniform(1e-3, 10)
  if (kind === "lines" || kind === "lines+wild") {
    const k = int(0, 8)
    const comps = Array.from({ length: k }, () => ({
      a: logUniform(0.01, 100) * (rng() < 0.1 ? -1 : 1),
      mu: uniform(-10, n + 10),
      s: logUniform(0.2, Math.max(0.3, n / 2))
    }))
    for (let i = 0; i < n; i++) {
      let v = noise * gauss()
      for (const c of comps) v += c.a * Math.exp(-((i - c.mu) ** 2) / (2 * c.s * c.s))
      f[i] = v
    }
  } else if (kind === "constant") {
    f.fill(pick([0, 1, -1, 1e38, -1e38, 1e-310, 5e-324, 7.25, 1e300]))
  } else if (kind === "step") {
    const at = int(0, n)
    const [a, b] = [pick(WILD.filter(Number.isFinite)), pick([0, 1, -3, 1e6])]
    for (let i = 0; i < n; i++) f[i] = (i < at ? a : b) + noise * gauss()
  } else if (kind === "spikes") {
    for (let i = 0; i < n; i++) f[i] = rng() < 0.5 ? 0 : noise * gauss()
    for (let j = int(1, 6); j > 0 && n > 0; j--) f[int(0, n - 1)] = pick([1e38, -1e38, 50, -50, 1e-310, 1e300])
  } else if (kind === "ramp") {
    const slope = uniform(-1, 1) * logUniform(1e-6, 1e3)
    for (let i = 0; i < n; i++) f[i] = slope * i + noise * gauss()
  } else if (kind === "wild") {
    for (let i = 0; i < n; i++) f[i] = rng() < 0.5 ? pick(WILD) : gauss() * logUniform(1e-300, 1e300)
  }
  if (kind === "lines+wild" || rng() < 0.2) {
    // blank channels: none, a few, runs, or all
    const frac = pick([0.001, 0.05, 0.5, 0.99, 1])
    for (let i = 0; i < n; i++) if (rng() < frac) f[i] = pick([NaN, Infinity, -Infinity])
    if (rng() < 0.3 && n > 4) f.fill(NaN, int(0, n - 1), int(0, n))
  }
  if (rng() < 0.15) {
    // scale to the edges of the double range (exact powers of two)
    const k = pick([-1070, -1040, -600, -126, -149, 100, 126, 500, 1000])
    for (let i = 0; i < n; i++) f[i] *= 2 ** k
  }
  return rng() < 0.5 ? Float32Array.from(f) : f
}

const fail = (msg, ctx) => {
  throw new Error(`fuzz invariant violated: ${msg}\n${JSON.stringify(ctx, (k, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v)).slice(0, 2000)}`)
}

function check(d, n, ctx) {
  if (!["ok", "blank", "timeout"].includes(d.status)) fail(`status ${d.status}`, ctx)
  if ((d.rms === null) !== (d.status === "blank")) fail("rms null iff blank", ctx)
  if (d.rms !== null && !(d.rms >= 0)) fail(`rms ${d.rms}`, ctx)
  if (!Number.isInteger(d.nanChannels) || d.nanChannels < 0 || d.nanChannels > n) fail("nanChannels", ctx)
  if (!Number.isInteger(d.evaluations) || d.evaluations < 0) fail("evaluations", ctx)
  if (d.status !== "ok" && d.components.length > 0) fail("components outside status ok", ctx)
  let last = -Infinity
  for (const c of d.components) {
    if (![c.amplitude, c.mean, c.stddev].every(Number.isFinite)) fail("non-finite component", ctx)
    if (c.mean < 0 || c.mean > n || c.stddev <= 0) fail("component out of bounds", ctx)
    if (c.mean < last) fail("components not sorted by mean", ctx)
    last = c.mean
  }
  const assessed = d.status === "ok"
  if (!assessed && d.residualRms !== null) fail("residualRms outside status ok", ctx)
  // (null for ok only when it overflows: data near the top of the double range)
  if (assessed && d.residualRms === null && d.rms !== null && d.rms < 1e300) fail("residualRms missing", ctx)
  if (d.residualRms !== null && !(d.residualRms >= 0)) fail(`residualRms ${d.residualRms}`, ctx)
  if (d.chi2Reduced !== null && !(assessed && d.chi2Reduced >= 0)) fail(`chi2Reduced ${d.chi2Reduced}`, ctx)
  if (d.aicc !== null && !(assessed && Number.isFinite(d.aicc))) fail(`aicc ${d.aicc}`, ctx)
  if (d.componentErrors.length !== d.components.length) fail("one error triple per component", ctx)
  for (const e of d.componentErrors)
    if (![e.amplitude, e.mean, e.stddev].every((v) => Number.isNaN(v) || v >= 0)) fail("error not NaN or >= 0", ctx)
}

const bits = (d) =>
  JSON.stringify([
    d.status,
    d.rms,
    d.components.map((c) => [c.amplitude, c.mean, c.stddev]),
    [d.residualRms, d.chi2Reduced, d.aicc],
    d.componentErrors.map((e) => [e.amplitude, e.mean, e.stddev].map(String))
  ])

const t0 = Date.now()
let run = 0
let batches = 0
let steps = 0
const statuses = { ok: 0, blank: 0, timeout: 0 }
for (let c = 0; c < cases; c++) {
  const n = randomLength()
  const params = randomParams()
  const f = randomSpectrum(n)
  const ctx = { case: c, seed, n, params, type: f.constructor.name }
  if (n > 65536) continue
  const d = decompose(f, params, { timeoutMs: budgetMs })
  check(d, n, ctx)
  statuses[d.status]++
  run++

  if (c % 10 === 0 && n > 0) {
    // a small batch of related spectra (this one, variants of it) on 1-3 threads
    const count = int(1, 6)
    const cube = new Float32Array(count * n)
    cube.set(Float32Array.from(f), 0)
    for (let s = 1; s < count; s++) cube.set(Float32Array.from(randomSpectrum(n)), s * n)
    const results = await decomposeBatch(cube, n, params, { threads: int(1, 3), timeoutMs: budgetMs })
    if (results.length !== count) fail("batch length", ctx)
    results.forEach((r, s) => {
      check(r, n, { ...ctx, batchIndex: s })
      const single = decompose(cube.subarray(s * n, (s + 1) * n), params, { timeoutMs: budgetMs })
      // finished results are deterministic: equal bits whatever thread computed them
      if (r.status !== "timeout" && single.status !== "timeout" && bits(single) !== bits(r))
        fail("batch result differs from decompose()", { ...ctx, batchIndex: s })
    })
    batches++
    run += count
  }

  if (c % 5 === 0) {
    // the step exports with hostile input
    const g = Float64Array.from(f)
    __internal.noise(g)
    __internal.peaks(g, pick([0, 1e-300, 0.1, 3, 1e300, -1]))
    if (n > 0) {
      const k = int(0, 6)
      const init = Array.from({ length: k }, () => ({
        amplitude: rng() < 0.2 ? pick(WILD) : logUniform(1e-3, 1e3),
        mean: rng() < 0.2 ? pick(WILD) : uniform(-5, n + 5),
        stddev: rng() < 0.2 ? pick(WILD) : logUniform(0.01, 2 * n)
      }))
      const r = __internal.fit(g, init, int(1, 300))
      if (r.components.length !== k) fail("fit returned another number of components", ctx)
      if (r.componentErrors.length !== k) fail("fit returned another number of errors", ctx)
    }
    steps++
  }
}
const seconds = (Date.now() - t0) / 1000
console.log(
  `fuzz: ${cases} cases (${run} spectra decomposed, ${batches} batches, ${steps} step-export rounds; ` +
    `ok ${statuses.ok}, blank ${statuses.blank}, timeout ${statuses.timeout}) in ${seconds.toFixed(1)} s, seed ${seed}`
)
