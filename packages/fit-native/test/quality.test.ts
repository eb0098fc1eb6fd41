// Fit quality: residual rms, reduced χ², AICc and the parameter errors from the covariance.
import { describe, expect, it } from "vitest"
import { __internal, type Component, decompose, type Decomposition } from "@phs/fit-native"
import { normal, spectrum } from "./helpers.js"

const N = 256
const LINE = { mean: 120.3, stddev: 4.2 }

/** A single Gaussian of amplitude `snr` × `noise` in white noise of rms `noise`, realisation `seed`. */
const noisyLine = (snr: number, seed: number, noise = 1): Float64Array =>
  spectrum(N, [{ amplitude: snr * noise, ...LINE }], noise, seed)

const mean = (v: ReadonlyArray<number>) => v.reduce((a, b) => a + b, 0) / v.length
const scatter = (v: ReadonlyArray<number>) => {
  const m = mean(v)
  return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1))
}

/** Fitted values and reported errors of the single component over `runs` realisations. */
const realisations = (snr: number, runs: number, seed0: number, noise = 1) => {
  const fits: Array<{ c: Component; e: Component; d: Decomposition }> = []
  for (let r = 0; r < runs; r++) {
    const d = decompose(noisyLine(snr, seed0 + r, noise))
    if (d.components.length === 1) fits.push({ c: d.components[0], e: d.componentErrors[0], d })
  }
  return fits
}

const model = (comps: ReadonlyArray<Component>, i: number) =>
  comps.reduce((s, c) => s + c.amplitude * Math.exp(-((i - c.mean) ** 2) / (2 * c.stddev ** 2)), 0)

describe("parameter errors", () => {
  it("shrink as 1/SNR (amplitude: relative error), and match the scatter over noise realisations", () => {
    const perSnr = [5, 10, 20, 40].map((snr) => {
      const fits = realisations(snr, 300, 1000 * snr)
      expect(fits.length).toBeGreaterThan(290)
      for (const key of ["amplitude", "mean", "stddev"] as const) {
        const reported = mean(fits.map((f) => f.e[key]))
        const empirical = scatter(fits.map((f) => f.c[key]))
        expect(Math.abs(reported / empirical - 1), `${key} at SNR ${snr}`).toBeLessThan(0.2)
      }
      return {
        snr,
        amplitude: mean(fits.map((f) => f.e.amplitude / f.c.amplitude)),
        mean: mean(fits.map((f) => f.e.mean)),
        stddev: mean(fits.map((f) => f.e.stddev))
      }
    })
    const base = perSnr[0]
    for (const p of perSnr.slice(1)) {
      for (const key of ["amplitude", "mean", "stddev"] as const) {
        const ratio = (p[key] * p.snr) / (base[key] * base.snr)
        expect(Math.abs(ratio - 1), `${key} × SNR at ${p.snr} vs ${base.snr}`).toBeLessThan(0.1)
      }
    }
  })

  it("scale with the noise: at a noise of 0.3 they match the scatter and equal 0.3 × those at noise 1", () => {
    const unit = realisations(10, 300, 500)
    const fits = realisations(10, 300, 500, 0.3)
    for (const key of ["amplitude", "mean", "stddev"] as const) {
      const reported = mean(fits.map((f) => f.e[key]))
      expect(Math.abs(reported / scatter(fits.map((f) => f.c[key])) - 1), key).toBeLessThan(0.2)
      const expected = (key === "amplitude" ? 0.3 : 1) * mean(unit.map((f) => f.e[key]))
      expect(reported / expected, key).toBeCloseTo(1, 2)
    }
  })

  it("are NaN for a parameter held at a bound, finite for the others", () => {
    // A line centred left of channel 0: the fitted mean stops at its bound 0.
    const f = spectrum(200, [{ amplitude: 5, mean: -3, stddev: 6 }], 0.05, 3)
    const r = __internal.fit(f, [{ amplitude: 3, mean: 4, stddev: 5 }], 10000, 0.05)
    expect(r.components[0].mean).toBe(0)
    expect(r.componentErrors[0].mean).toBeNaN()
    expect(r.componentErrors[0].amplitude).toBeGreaterThan(0)
    expect(r.componentErrors[0].stddev).toBeGreaterThan(0)
  })

  it("are NaN for a degenerate group (two identical components), finite for a separate one", () => {
    const f = spectrum(300, [{ amplitude: 4, mean: 60, stddev: 3 }, { amplitude: 2, mean: 220, stddev: 5 }], 0.1, 5)
    const twin = { amplitude: 2, mean: 60, stddev: 3 }
    const r = __internal.fit(f, [twin, twin, { amplitude: 2, mean: 220, stddev: 5 }], 10000, 0.1)
    for (const e of r.componentErrors.slice(0, 2)) {
      expect([e.amplitude, e.mean, e.stddev].every(Number.isNaN)).toBe(true)
    }
    const far = r.componentErrors[2]
    expect([far.amplitude, far.mean, far.stddev].every((v) => v > 0 && Number.isFinite(v))).toBe(true)
  })

  it("follow the data's scale: amplitude errors scale exactly, mean and stddev errors do not change", () => {
    const f = noisyLine(10, 7)
    const a = decompose(f)
    const b = decompose(f.map((v) => v * 2 ** 40))
    expect(a.components).toHaveLength(1)
    expect(b.componentErrors[0].amplitude).toBe(a.componentErrors[0].amplitude * 2 ** 40)
    expect(b.componentErrors[0].mean).toBe(a.componentErrors[0].mean)
    expect(b.componentErrors[0].stddev).toBe(a.componentErrors[0].stddev)
    expect(b.chi2Reduced).toBe(a.chi2Reduced)
    expect(b.residualRms).toBe((a.residualRms ?? 0) * 2 ** 40)
    expect(b.aicc! - a.aicc!).toBeCloseTo(2 * N * 40 * Math.LN2, 6)
  })
})

describe("per-spectrum fit quality", () => {
  it("residual_rms, chi2_reduced and aicc equal a direct computation from the returned components", () => {
    const comps = [{ amplitude: 3, mean: 80, stddev: 4 }, { amplitude: 1.5, mean: 150, stddev: 9 }]
    const f = spectrum(400, comps, 0.3, 11)
    for (const i of [5, 81, 300]) f[i] = Number.NaN
    const d = decompose(f)
    expect(d.components.length).toBeGreaterThan(0)
    let rss = 0
    let n = 0
    for (let i = 0; i < f.length; i++) {
      if (!Number.isFinite(f[i])) continue
      rss += (f[i] - model(d.components, i)) ** 2
      n++
    }
    const k = 3 * d.components.length
    expect(n).toBe(397)
    expect(d.residualRms).toBeCloseTo(Math.sqrt(rss / n), 12)
    expect(d.chi2Reduced! / (rss / d.rms! ** 2 / (n - k))).toBeCloseTo(1, 12)
    const aicc = n * Math.log(rss / n) + 2 * k + (2 * k * k + 2 * k) / (n - k - 1)
    expect(d.aicc).toBeCloseTo(aicc, 8)
    expect(d.componentErrors).toHaveLength(d.components.length)
  })

  it("chi2_reduced is about 1 for a correct model on white noise plus a Gaussian", () => {
    const chi2 = realisations(10, 200, 77).map((f) => f.d.chi2Reduced!)
    expect(chi2.length).toBeGreaterThan(190)
    // The noise estimate is ~3 % low on white noise (docs/results.md), so χ² sits near 1.06.
    expect(mean(chi2)).toBeGreaterThan(0.95)
    expect(mean(chi2)).toBeLessThan(1.12)
  })

  it("chi2_reduced is well above 1 when the line is not Gaussian", () => {
    // A boxcar of 21 channels at 20 σ: no sum of a few Gaussians fits its edges.
    const g = normal(9)
    const f = Float64Array.from({ length: N }, (_, i) => (i >= 100 && i <= 120 ? 20 : 0) + g())
    const d = decompose(f)
    expect(d.chi2Reduced).toBeGreaterThan(3)
  })

  it("a spectrum not fitted still gets the quality of no components; blank and timeout get none", () => {
    const short = Float64Array.of(1, -1, 0.5, -0.5, 2)
    const d = decompose(short)
    expect(d.components).toEqual([])
    expect(d.residualRms).toBeCloseTo(Math.sqrt((1 + 1 + 0.25 + 0.25 + 4) / 5), 14)
    const zero = decompose(new Float64Array(100))
    expect(zero).toMatchObject({ residualRms: 0, chi2Reduced: null, aicc: null, componentErrors: [] })
    const timeout = decompose(noisyLine(10, 1), {}, { timeoutMs: 1e-6 })
    expect(timeout.status).toBe("timeout")
    expect(timeout).toMatchObject({ residualRms: null, chi2Reduced: null, aicc: null, componentErrors: [] })
  })
})
