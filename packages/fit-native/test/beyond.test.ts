// What the decomposer does beyond the reference method: component splits (symmetric and
// shoulder seeds) and matched-filter seeding, all gated by AICc and validation.
import { describe, expect, it } from "vitest"
import { __internal, decompose } from "@phs/fit-native"
import { spectrum } from "./helpers.js"

describe("beyond the reference", () => {
  it("splits a blend with a single maximum into its two lines", () => {
    const pair = [
      { amplitude: 2, mean: 200, stddev: 5 },
      { amplitude: 2, mean: 209, stddev: 5 }
    ]
    const f = spectrum(424, pair, 0.05, 3)
    const inLine = __internal.peaks(f, 3.5 * 0.05).filter((p) => p.index > 190 && p.index < 220)
    expect(inLine).toHaveLength(1)
    const d = decompose(f)
    expect(d.components).toHaveLength(2)
    d.components.forEach((c, k) => {
      expect(Math.abs(c.mean - pair[k].mean)).toBeLessThan(1)
      expect(c.stddev / pair[k].stddev).toBeGreaterThan(0.8)
      expect(c.stddev / pair[k].stddev).toBeLessThan(1.25)
    })
  })

  it("recovers a faint line hidden between two brighter ones (shoulder split seeds)", () => {
    // The outer lines absorb the middle one: the fit of two lines leaves little residual, and
    // only a split with a shoulder seed on the right side finds the third (7 of 20 without).
    const triple = [
      { amplitude: 2.5, mean: 190, stddev: 6 },
      { amplitude: 1, mean: 201, stddev: 4 },
      { amplitude: 2.5, mean: 212, stddev: 6 }
    ]
    let found = 0
    for (let seed = 1; seed <= 20; seed++) {
      const d = decompose(spectrum(424, triple, 0.15, seed))
      const right =
        d.components.length === 3 &&
        d.components.every(
          (c, k) =>
            Math.abs(c.mean - triple[k].mean) < triple[k].stddev &&
            c.stddev / triple[k].stddev > 0.4 &&
            c.stddev / triple[k].stddev < 2.5
        )
      if (right) found++
    }
    expect(found).toBeGreaterThanOrEqual(13)
  })

  it("seeds a faint broad line that persistence misses from the matched filter", () => {
    const line = { amplitude: 0.55, mean: 250, stddev: 7 }
    let found = 0
    for (let seed = 1; seed <= 10; seed++) {
      const d = decompose(spectrum(424, [line], 0.25, seed))
      const hit = d.components.filter((c) => Math.abs(c.mean - line.mean) < line.stddev)
      if (hit.length === 1 && d.components.length === 1) found++
    }
    expect(found).toBeGreaterThanOrEqual(8)
  })

  it("does not split a single line or invent lines in pure noise", () => {
    let extra = 0
    for (let seed = 1; seed <= 30; seed++) {
      extra += decompose(spectrum(424, [], 0.25, seed)).components.length
      extra += decompose(spectrum(424, [{ amplitude: 3, mean: 180, stddev: 6 }], 0.25, 100 + seed)).components.length - 1
    }
    expect(extra).toBeLessThanOrEqual(2)
  })
})
