import { describe, expect, it } from "@effect/vitest"
import * as Native from "@phs/fit-native"
import * as Residual from "../../src/score/Residual.js"
import * as Score from "../../src/score/Score.js"
import * as Summary from "../../src/score/Summary.js"
import * as Synthetic from "../../src/score/Synthetic.js"

describe("Synthetic.generate", () => {
  it("seven categories of the requested size, channels and noise; seeded", () => {
    const b = Synthetic.generate({ seed: 3, perCategory: 20, nChannels: 300, noise: 0.1 })
    expect(b.data.length).toBe(7 * 20 * 300)
    expect(b.amplitudes).toBe("standard")
    const byCat = new Map<string, number[]>()
    for (const s of b.labels.spectra) byCat.set(s.category!, [...(byCat.get(s.category!) ?? []), s.components.length])
    expect([...byCat.keys()]).toEqual([...Synthetic.CATEGORIES])
    expect(new Set(byCat.get("SB"))).toEqual(new Set([1]))
    expect(Math.min(...byCat.get("MS")!)).toBeGreaterThanOrEqual(2)
    expect(Math.min(...byCat.get("C")!)).toBeGreaterThanOrEqual(4)
    for (const s of b.labels.spectra) {
      for (const c of s.components) {
        expect(c.mean).toBeGreaterThanOrEqual(Synthetic.MARGIN)
        expect(c.mean).toBeLessThanOrEqual(300 - Synthetic.MARGIN)
      }
    }
    // The noise is what was asked: the decomposer's own estimate on the data agrees.
    const rms = Native.__internal.noise(b.data.subarray(0, 300)).rms
    expect(rms).toBeGreaterThan(0.08)
    expect(rms).toBeLessThan(0.12)
    // Seeded: the same options give the same bits; another seed does not.
    expect(Synthetic.generate({ seed: 3, perCategory: 20, nChannels: 300, noise: 0.1 }).data).toEqual(b.data)
    expect(Synthetic.generate({ seed: 4, perCategory: 20, nChannels: 300, noise: 0.1 }).data).not.toEqual(b.data)
  })

  it("high noise: amplitudes scaled to the standard signal-to-noise", () => {
    const low = Synthetic.generate({ seed: 1, perCategory: 5, nChannels: 424, noise: 0.25 })
    const high = Synthetic.generate({ seed: 1, perCategory: 5, nChannels: 424, noise: 2.5 })
    expect(high.amplitudes).toBe("scaled")
    expect(high.labels.spectra[0].components[0].amplitude / low.labels.spectra[0].components[0].amplitude).toBeCloseTo(10, 6)
  })

  it("refuses too few channels", () => {
    expect(() => Synthetic.generate({ seed: 1, perCategory: 5, nChannels: 40, noise: 0.2 })).toThrow(/at least 60 channels/)
  })

  it("the decomposer scores well on it, and residuals of good fits are consistent with noise", async () => {
    const b = Synthetic.generate({ seed: 1, perCategory: 20, nChannels: 424, noise: 0.25 })
    const fits = await Native.decomposeBatch(b.data, 424, { beta: 3.5 }, { threads: 2 })
    const report = Score.scoreLabels(b.labels, (x, y) => fits[y * 20 + x].components)
    expect(report.overall.f1).toBeGreaterThan(0.8)
    expect(Object.keys(report.categories)).toEqual([...Synthetic.CATEGORIES])
    const ok = fits.map((f, i) => Residual.residual(b.data.subarray(i * 424, (i + 1) * 424), f.components, f.rms))
    const consistent = ok.filter((r) => r?.consistentWithNoise === true).length / ok.length
    expect(consistent).toBeGreaterThan(0.8)
    // With no components at all, the lines themselves are left in the residual.
    const empty = Residual.residual(b.data.subarray(0, 424), [], fits[0].rms)!
    expect(empty.consistentWithNoise).toBe(false)
    expect(empty.chi2Reduced).toBeGreaterThan(ok[0]!.chi2Reduced)
  })
})

describe("Summary.counts", () => {
  it("mean, median and sample standard deviation; deferred spectra left out", () => {
    expect(Summary.counts([1, 2, 3, 4, -1])).toEqual({ spectra: 4, mean: 2.5, median: 2.5, stddev: Math.sqrt(5 / 3) })
    expect(Summary.counts([2])).toEqual({ spectra: 1, mean: 2, median: 2, stddev: null })
    expect(Summary.counts([])).toEqual({ spectra: 0, mean: null, median: null, stddev: null })
  })
})
