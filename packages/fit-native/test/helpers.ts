// Deterministic test data: a seeded PRNG and sums of Gaussians.
import type { Component, Decomposition } from "@phs/fit-native"

/** mulberry32: a small seeded uniform generator in [0, 1). */
export const uniform = (seed: number): (() => number) => {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Standard normal deviates (Box–Muller) from a seeded stream. */
export const normal = (seed: number): (() => number) => {
  const u = uniform(seed)
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u())
}

/** Σ A exp(−(i − μ)² / 2σ²) over n channels plus σ_noise white noise from `seed`. */
export const spectrum = (n: number, comps: ReadonlyArray<Component>, noise = 0, seed = 1): Float64Array => {
  const out = new Float64Array(n)
  const g = normal(seed)
  for (let i = 0; i < n; i++) {
    let v = 0
    for (const c of comps) v += c.amplitude * Math.exp(-((i - c.mean) ** 2) / (2 * c.stddev ** 2))
    out[i] = v + (noise > 0 ? noise * g() : 0)
  }
  return out
}

/** The bits of a decomposition (components, noise, fit quality), for exact comparisons. */
export const bits = (d: Decomposition): string =>
  JSON.stringify([
    d.rms,
    d.components.map((c) => [c.amplitude, c.mean, c.stddev]),
    [d.residualRms, d.chi2Reduced, d.aicc],
    d.componentErrors.map((e) => [e.amplitude, e.mean, e.stddev].map(String))
  ])
