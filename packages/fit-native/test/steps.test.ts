// The algorithm's steps one by one, through the debug export.
import { describe, expect, it } from "vitest"
import { __internal } from "@phs/fit-native"
import { normal, spectrum } from "./helpers.js"

const { noise, peaks, fit } = __internal

describe("noise estimate (signal-masked MAD)", () => {
  it.each([
    [0.25, 1],
    [0.25, 2],
    [2.0, 3],
    [0.01, 4]
  ])("recovers σ = %s of pure white noise within a few percent (seed %s)", (sigma, seed) => {
    // The specified estimator clips at 5 σ_mad, with σ_mad taken from the non-positive
    // channels only (≈ 0.6 σ): it reads a few percent low on pure noise.
    const g = normal(seed)
    const f = Array.from({ length: 4096 }, () => sigma * g())
    const e = noise(f)
    expect(e.fallback).toBe(false)
    expect(e.rms / sigma).toBeGreaterThan(0.94)
    expect(e.rms / sigma).toBeLessThan(1.02)
  })

  it("ignores strong lines: the rms stays within a few percent of the noise", () => {
    const f = spectrum(
      2048,
      [
        { amplitude: 20, mean: 600, stddev: 12 },
        { amplitude: 8, mean: 1500, stddev: 30 }
      ],
      0.5,
      7
    )
    const e = noise(f)
    expect(e.rms / 0.5).toBeGreaterThan(0.93)
    expect(e.rms / 0.5).toBeLessThan(1.02)
    expect(e.channelsUsed).toBeLessThan(2048 - 200)
  })

  it("falls back to the plain MAD / 0.6745 when too few channels are left", () => {
    const e = noise([1, 2, 3, 4, 5, 6, 7, 8])
    expect(e.fallback).toBe(true)
    expect(e.rms).toBeCloseTo(2 / 0.6745, 12)
  })

  it("is zero for a constant zero spectrum", () => {
    expect(noise(new Array(100).fill(0)).rms).toBe(0)
  })
})

describe("persistence peaks", () => {
  it("records birth, death and saddle of each peak, most persistent first", () => {
    //          0  1  2  3  4  5  6
    const f = [1, 5, 2, 4, 3, 6, 0]
    const p = peaks(f, 0.5)
    expect(p.map((q) => [q.index, q.birth, q.death, q.persistence, q.saddle])).toEqual([
      [5, 6, 0, 6, -1], // global maximum: death 0
      [1, 5, 2, 3, 2], // dies at channel 2 merging into the peak at 5
      [3, 4, 3, 1, 4] // dies at channel 4
    ])
  })

  it("keeps only peaks with persistence strictly above the threshold", () => {
    const f = [1, 5, 2, 4, 3, 6, 0]
    expect(peaks(f, 1).map((q) => q.index)).toEqual([5, 1])
    expect(peaks(f, 3).map((q) => q.index)).toEqual([5])
    expect(peaks(f, 6)).toEqual([])
  })

  it("treats a plateau as one peak and lets the later of two equal maxima die", () => {
    expect(peaks([0, 2, 2, 0], 0).map((q) => q.index)).toEqual([1])
    const p = peaks([2, 0, 2], 0)
    expect(p.map((q) => [q.index, q.persistence, q.saddle])).toEqual([
      [0, 2, -1],
      [2, 2, 1]
    ])
  })

  it("guesses σ = d / sqrt(2 ln(birth / death)) from the saddle, 1 when undefined", () => {
    const p = peaks([1, 5, 2, 4, 3, 6, 0], 0.5)
    expect(p[0].stddevGuess).toBe(1)
    expect(p[1].stddevGuess).toBeCloseTo(1 / Math.sqrt(2 * Math.log(5 / 2)), 12)
    const g = peaks(spectrum(200, [{ amplitude: 1, mean: 60, stddev: 6 }, { amplitude: 4, mean: 130, stddev: 6 }]), 0.1)
    expect(g.map((q) => q.index)).toEqual([130, 60])
    expect(g[1].stddevGuess).toBeGreaterThan(4)
    expect(g[1].stddevGuess).toBeLessThan(9)
  })

  it("finds nothing in an empty or flat spectrum below the threshold", () => {
    expect(peaks([], 0)).toEqual([])
    expect(peaks([0, 0, 0], 0)).toEqual([])
  })
})

describe("bounded Levenberg–Marquardt", () => {
  const truth = [
    { amplitude: 3, mean: 100, stddev: 5 },
    { amplitude: 1.5, mean: 115, stddev: 8 },
    { amplitude: 0.7, mean: 300, stddev: 2 }
  ]

  it("recovers the exact parameters of a noiseless sum of Gaussians", () => {
    const f = spectrum(424, truth)
    const start = truth.map((c, k) => ({ amplitude: c.amplitude * 0.7, mean: c.mean + (k % 2 ? 2 : -2), stddev: c.stddev * 1.4 }))
    const r = fit(f, start)
    expect(["gradient_tolerance", "function_tolerance", "parameter_tolerance"]).toContain(r.status)
    expect(r.finalCost).toBeLessThan(1e-18)
    expect(r.finalCost).toBeLessThan(r.initialCost)
    r.components.forEach((c, k) => {
      expect(c.amplitude).toBeCloseTo(truth[k].amplitude, 7)
      expect(c.mean).toBeCloseTo(truth[k].mean, 7)
      expect(c.stddev).toBeCloseTo(truth[k].stddev, 7)
    })
  })

  it("gives blank (NaN) channels zero weight", () => {
    const f = spectrum(424, truth)
    for (let i = 105; i < 112; i++) f[i] = Number.NaN
    const r = fit(f, truth.map((c) => ({ ...c, amplitude: c.amplitude * 1.2 })))
    r.components.forEach((c, k) => expect(c.mean).toBeCloseTo(truth[k].mean, 6))
    expect(Number.isFinite(r.finalCost)).toBe(true)
  })

  it("respects its bounds: A ≥ 0, 0 ≤ μ ≤ n, 0.3 ≤ σ ≤ n/2", () => {
    const n = 200
    const dip = spectrum(n, [{ amplitude: -2, mean: 100, stddev: 5 }])
    expect(fit(dip, [{ amplitude: 1, mean: 100, stddev: 5 }]).components[0].amplitude).toBe(0)

    const spike = new Float64Array(n)
    spike[50] = 5
    const s = fit(spike, [{ amplitude: 5, mean: 50, stddev: 2 }]).components[0]
    expect(s.stddev).toBe(0.3)

    const edge = spectrum(n, [{ amplitude: 2, mean: -8, stddev: 6 }])
    expect(fit(edge, [{ amplitude: 1, mean: 3, stddev: 3 }]).components[0].mean).toBe(0)

    const flat = new Float64Array(n).fill(1)
    expect(fit(flat, [{ amplitude: 1, mean: 100, stddev: 20 }]).components[0].stddev).toBeLessThanOrEqual(n / 2)

    const clamped = fit(spectrum(n, [{ amplitude: 1, mean: 100, stddev: 5 }]), [{ amplitude: -3, mean: 900, stddev: 0.01 }])
    const c = clamped.components[0]
    expect(c.amplitude).toBeGreaterThanOrEqual(0)
    expect(c.mean).toBeLessThanOrEqual(n)
    expect(c.stddev).toBeGreaterThanOrEqual(0.3)
  })

  it("stops at its evaluation cap and says so", () => {
    const f = spectrum(424, truth)
    const r = fit(f, truth.map((c) => ({ ...c, mean: c.mean + 4 })), 3)
    expect(r.status).toBe("max_evaluations")
    expect(r.evaluations).toBeLessThanOrEqual(3)
  })

  it("reports no parameters for an empty start", () => {
    expect(fit(spectrum(50, []), []).status).toBe("no_parameters")
  })
})
