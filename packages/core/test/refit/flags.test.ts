import { decompose, DEFAULT_PARAMS, type Component } from "@phs/fit-native"
import { describe, expect, it } from "@effect/vitest"
import { DEFAULT_REFIT_OPTIONS, flagsOf, majorityCount, matchedSupportOf, type Neighbour, refitBlock, supportOf } from "../../src/refit/index.js"
import type { DecompositionRow } from "../../src/ResultSchema.js"
import { prng } from "../../src/internal/prng.js"
import { fromCards } from "../../src/wcs/Wcs.js"

const N = 300
const RMS = 0.25

const row = (x: number, y: number, comps: ReadonlyArray<Component>, chi2 = 1): DecompositionRow => ({
  x, y, beta: 3.5, rms: RMS, min_persistence: null, n_components: comps.length,
  component_amplitudes: comps.map((c) => c.amplitude), component_means: comps.map((c) => c.mean), component_stddevs: comps.map((c) => c.stddev),
  nan_channels: 0, residual_rms: RMS, chi2_reduced: chi2, aicc: null,
  component_amplitude_errors: comps.map(() => NaN), component_mean_errors: comps.map(() => NaN), component_stddev_errors: comps.map(() => NaN),
  run_id: "t", cube: "t.fits", lon: null, lat: null,
  component_velocities: null, component_velocity_dispersions: null, component_integrated_intensities: null
})
const ring = (comps: ReadonlyArray<Component>): Array<Neighbour> =>
  Array.from({ length: 8 }, (_, i) => ({ row: row(i, 0, comps), weight: i % 2 ? Math.SQRT1_2 : 1 }))
const flat = new Float64Array(N)
const one = [{ amplitude: 2, mean: 100, stddev: 4 }]
const two = [{ amplitude: 2, mean: 100, stddev: 4 }, { amplitude: 1, mean: 150, stddev: 4 }]
const flags = (r: DecompositionRow, n: Array<Neighbour>, residual = flat) => flagsOf(r, n, residual, DEFAULT_PARAMS.f_sep, DEFAULT_REFIT_OPTIONS)

describe("refit flags", () => {
  it("none for a spectrum like its neighbours and consistent with the noise", () => {
    expect(flags(row(0, 0, one), ring(one))).toEqual([])
  })
  it("count: the neighbours' weighted majority has another count", () => {
    // and the component at 150 all of them have is missing
    expect(flags(row(0, 0, one), ring(two))).toEqual(["count", "missing"])
    expect(majorityCount(ring(two))).toEqual({ count: 2, share: 1 })
    // a spectrum with a component more than its neighbours lacks none of theirs
    expect(flags(row(0, 0, two), ring(one))).toEqual(["count"])
  })
  it("missing: the right count, but a component the neighbours share stands elsewhere", () => {
    const elsewhere = [{ amplitude: 2, mean: 100, stddev: 4 }, { amplitude: 1, mean: 200, stddev: 4 }]
    expect(flags(row(0, 0, elsewhere), ring(two))).toEqual(["missing"])
    // held by less than missingShare of the neighbours' weight: not flagged
    const few = ring(one).map((n, i) => (i === 0 ? { ...n, row: row(0, 0, two) } : n))
    expect(supportOf(150, 4, few)).toBeLessThan(DEFAULT_REFIT_OPTIONS.missingShare)
    expect(flags(row(0, 0, one), few)).toEqual([])
  })
  it("matched support: one neighbour component supports one component at most", () => {
    // a neighbour line split in two: each half overlaps it, only the nearer one is supported
    const split = [{ amplitude: 1, mean: 99, stddev: 2 }, { amplitude: 1, mean: 103, stddev: 4 }]
    expect(supportOf(99, 2, ring(one))).toBe(1)
    expect(supportOf(103, 4, ring(one))).toBe(1)
    expect(matchedSupportOf(split, ring(one))).toEqual([1, 0])
    // two neighbour lines, two components: both supported; a half-supported one gets its share
    expect(matchedSupportOf(two, ring(two))).toEqual([1, 1])
    const half = ring(one).map((n, i) => (i < 4 ? { ...n, row: row(i, 0, two) } : n))
    const [a, b] = matchedSupportOf(two, half)
    expect(a).toBe(1)
    expect(b).toBeCloseTo((2 + 2 * Math.SQRT1_2) / (4 + 4 * Math.SQRT1_2), 12)
  })
  it("residual: χ²_red beyond the noise", () => {
    expect(flags(row(0, 0, one, 1.5), ring(one))).toEqual(["residual"])
  })
  it("broad: a component much wider than the neighbours' at its velocity", () => {
    expect(flags(row(0, 0, [{ amplitude: 2, mean: 100, stddev: 12 }]), ring(one))).toEqual(["broad"])
  })
  it("blended: two components closer than f_sep FWHM", () => {
    const pair = [{ amplitude: 2, mean: 100, stddev: 4 }, { amplitude: 1, mean: 106, stddev: 4 }]
    expect(flags(row(0, 0, pair), ring(pair))).toEqual(["blended"])
  })
  it("negative: a dip of the residual below the noise", () => {
    const r = new Float64Array(N)
    r[50] = r[51] = r[52] = -1
    expect(flags(row(0, 0, one), ring(one), r)).toEqual(["negative"])
  })
})

describe("refit of a constructed neighbourhood", () => {
  const rand = prng(11)
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())
  const spectrumOf = (comps: ReadonlyArray<Component>) =>
    Float64Array.from({ length: N }, (_, i) => comps.reduce((s, c) => s + c.amplitude * Math.exp(-0.5 * ((i - c.mean) / c.stddev) ** 2), 0) + RMS * gauss())
  const centre = spectrumOf(two)
  const map = { nx: 3, ny: 3 }
  const block = { x0: 1, y0: 1, nx: 1, ny: 1 }
  const around = (comps: ReadonlyArray<Component>) =>
    Array.from({ length: 9 }, (_, i) => row(i % 3, Math.floor(i / 3), i === 4 ? one : comps, 1))

  it("adds the component its neighbours have and its own fit missed, flagged count", () => {
    const r = refitBlock({ map, block, rows: around(two), params: DEFAULT_PARAMS, options: { passes: 1 }, spectrum: () => centre })
    expect(r.flagged.count).toBe(1)
    expect(r.refitted).toBe(1)
    expect(r.rows[0].refit).toBe("count")
    expect(r.rows[0].n_components).toBe(2)
    expect(r.rows[0].component_means[1]).toBeCloseTo(150, 0)
  })

  it("recomputes a refitted row's km/s columns from the cube's world", () => {
    const wcs = fromCards({ NAXIS: 3, NAXIS1: 3, NAXIS2: 3, NAXIS3: N, CTYPE1: "GLON-CAR", CTYPE2: "GLAT-CAR", CRVAL1: 30, CRVAL2: 0, CRPIX1: 1, CRPIX2: 1, CDELT1: -0.01, CDELT2: 0.01, CTYPE3: "VELO-LSR", CRVAL3: 0, CRPIX3: 1, CDELT3: 200, CUNIT3: "m/s" })
    const r = refitBlock({ map, block, rows: around(two), params: DEFAULT_PARAMS, options: { passes: 1 }, spectrum: () => centre, world: { cube: "t.fits", wcs } })
    expect(r.rows[0].refit).toBe("count")
    expect(r.rows[0].component_velocities).toHaveLength(2)
    expect((r.rows[0].component_velocities as ReadonlyArray<number>)[1]).toBeCloseTo(0.2 * r.rows[0].component_means[1], 6)
  })

  it("lowers a component's thresholds step by step as more of the neighbours share it (supportedFrom … supportedShare)", () => {
    // a faint second line (fitted at 1.3 rms, matched-filter S/N 3.6: below the fit's 1.5 and 5) that
    // the three 4-neighbours above, left and right have: 44 % of the weight, under supportedShare
    const faint = [one[0], { amplitude: 0.2, mean: 150, stddev: 4 }]
    const spec = spectrumOf(faint)
    const rows = Array.from({ length: 9 }, (_, i) => row(i % 3, Math.floor(i / 3), i === 1 || i === 3 || i === 5 ? faint : one))
    const share = supportOf(150, 4, rows.filter((r) => r.x !== 1 || r.y !== 1).map((r) => ({ row: r, weight: r.x === 1 || r.y === 1 ? 1 : Math.SQRT1_2 })))
    expect(share).toBeGreaterThan(0.4)
    expect(share).toBeLessThan(DEFAULT_REFIT_OPTIONS.supportedShare)
    const run = (supportedFrom: number) =>
      refitBlock({ map, block, rows, params: DEFAULT_PARAMS, options: { passes: 1, supportedFrom }, spectrum: () => spec })
    const step = run(DEFAULT_REFIT_OPTIONS.supportedShare)
    expect(step.flagged.missing).toBe(1)
    expect(step.rows[0].n_components).toBe(1)
    const ramp = run(0.3)
    expect(ramp.rows[0].refit).toBe("missing")
    expect(ramp.rows[0].n_components).toBe(2)
    expect(Math.abs(ramp.rows[0].component_means[1] - 150)).toBeLessThan(4)
  })

  it("keeps its own solution when the neighbours' does not lower AICc", () => {
    const lone = spectrumOf(one)
    const d = decompose(lone)
    expect(d.components).toHaveLength(1)
    const own = { ...row(1, 1, d.components, d.chi2Reduced ?? 1), aicc: d.aicc }
    const rows = around(two).map((r) => (r.x === 1 && r.y === 1 ? own : r))
    const r = refitBlock({ map, block, rows, params: DEFAULT_PARAMS, options: { passes: 1 }, spectrum: () => lone })
    expect(r.flagged.count).toBe(1)
    expect(r.refitted).toBe(0)
    expect(r.rows[0]).toStrictEqual({ ...own, refit: null })
  })
})
