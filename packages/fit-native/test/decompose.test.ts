// decompose(): the whole method on one spectrum, and what it does with odd input.
import { describe, expect, it } from "vitest"
import { __internal, decompose } from "@phs/fit-native"
import { bits, spectrum } from "./helpers.js"

const finiteComponents = (d: ReturnType<typeof decompose>) =>
  d.components.every((c) => [c.amplitude, c.mean, c.stddev].every(Number.isFinite))

describe("decompose", () => {
  it("recovers well separated lines in noise, sorted by mean", () => {
    const truth = [
      { amplitude: 2.5, mean: 300, stddev: 4 },
      { amplitude: 1.5, mean: 90, stddev: 7 }
    ]
    const d = decompose(spectrum(424, truth, 0.1, 11))
    expect(d.status).toBe("ok")
    expect(d.rms).toBeGreaterThan(0.09)
    expect(d.rms).toBeLessThan(0.11)
    expect(d.minPersistence).toBeCloseTo(3.5 * (d.rms ?? 0), 12)
    expect(d.nanChannels).toBe(0)
    expect(d.evaluations).toBeGreaterThan(0)
    expect(d.components.map((c) => Math.round(c.mean))).toEqual([90, 300])
    expect(d.components[0].stddev).toBeCloseTo(7, 0)
    expect(d.components[1].amplitude).toBeCloseTo(2.5, 1)
  })

  it("validation drops a one-channel spike the solver squeezes below one channel FWHM", () => {
    const f = spectrum(424, [], 0.25, 3)
    f[100] = 5
    expect(__internal.fit(f, [{ amplitude: 5, mean: 100, stddev: 1 }]).components[0].stddev).toBeLessThan(1 / 2.3548)
    expect(decompose(f).components).toEqual([])
  })

  it("validation drops components below the matched-filter SNR", () => {
    const f = spectrum(424, [{ amplitude: 0.6, mean: 200, stddev: 3 }], 0.1, 5)
    expect(decompose(f).components).toHaveLength(1)
    // (A / rms) sqrt(σ) π^¼ ≈ 6 · 1.7 · 1.33 ≈ 14: a threshold of 30 rejects it
    expect(decompose(f, { mf_snr_min: 30 }).components).toEqual([])
  })

  it("refinement splits a blended pair that persistence sees as one peak", () => {
    const pair = [
      { amplitude: 2, mean: 200, stddev: 6 },
      { amplitude: 1.2, mean: 213, stddev: 5 }
    ]
    const f = spectrum(424, pair, 0.1, 1)
    expect(decompose(f, { max_refine_iter: 0 }).components).toHaveLength(1)
    const d = decompose(f)
    expect(d.components).toHaveLength(2)
    d.components.forEach((c, k) => {
      expect(Math.abs(c.mean - pair[k].mean)).toBeLessThan(1)
      expect(c.stddev / pair[k].stddev).toBeGreaterThan(0.8)
      expect(c.stddev / pair[k].stddev).toBeLessThan(1.25)
    })
  })

  it("accepts Float32Array and Float64Array alike", () => {
    const f = spectrum(424, [{ amplitude: 1, mean: 150, stddev: 5 }], 0.1, 2)
    const f32 = Float32Array.from(f)
    expect(bits(decompose(f32))).toBe(bits(decompose(Float64Array.from(f32))))
  })

  it("is deterministic: the same input gives the same bits", () => {
    const f = spectrum(424, [{ amplitude: 1, mean: 150, stddev: 5 }, { amplitude: 0.8, mean: 160, stddev: 9 }], 0.2, 9)
    expect(bits(decompose(f))).toBe(bits(decompose(f)))
  })
})

describe("blank and odd input", () => {
  const line = [{ amplitude: 2, mean: 200, stddev: 5 }]

  it("an all-NaN spectrum is blank: no components, rms null, minPersistence NaN", () => {
    const d = decompose(new Float32Array(424).fill(Number.NaN))
    expect(d).toEqual({
      rms: null, minPersistence: Number.NaN, components: [], status: "blank", evaluations: 0, nanChannels: 424,
      residualRms: null, chi2Reduced: null, aicc: null, componentErrors: []
    })
    expect(decompose(new Float64Array(0)).status).toBe("blank")
  })

  it("NaN channels get zero weight, leave the noise estimate and are counted", () => {
    const clean = spectrum(424, line, 0.1, 4)
    const gappy = Float64Array.from(clean)
    for (let i = 0; i < 40; i++) gappy[i] = Number.NaN
    for (let i = 204; i < 207; i++) gappy[i] = Number.NaN
    const d = decompose(gappy)
    expect(d.status).toBe("ok")
    expect(d.nanChannels).toBe(43)
    expect(d.components).toHaveLength(1)
    expect(d.components[0].mean).toBeCloseTo(200, 0)
    expect(d.components[0].amplitude).toBeCloseTo(2, 1)
    expect(d.rms).toBeCloseTo(decompose(clean).rms ?? 0, 1)
  })

  it("treats ±Infinity exactly like NaN (a blank channel)", () => {
    const f = spectrum(424, line, 0.1, 4)
    const withNaN = Float64Array.from(f)
    const withInf = Float64Array.from(f)
    for (const i of [10, 202, 300]) {
      withNaN[i] = Number.NaN
      withInf[i] = i === 202 ? Infinity : -Infinity
    }
    const d = decompose(withInf)
    expect(d.nanChannels).toBe(3)
    expect(bits(d)).toBe(bits(decompose(withNaN)))
  })

  it("an all-zero spectrum is ok with no components and rms 0", () => {
    const d = decompose(new Float64Array(424))
    expect(d).toMatchObject({ status: "ok", rms: 0, minPersistence: 0, components: [] })
  })

  it("a constant spectrum gives a defined, finite result", () => {
    const d = decompose(new Float64Array(424).fill(3))
    expect(d.status).toBe("ok")
    expect(finiteComponents(d)).toBe(true)
  })

  it("noise-free lines fit as their lines, not as lines plus fits of rounding error", () => {
    for (const [n, amplitude, stddev] of [[64, 0.5, 1.5], [424, 3, 7], [200, 100, 3]]) {
      const line = { amplitude, mean: n / 3 + 0.3, stddev }
      for (const f of [spectrum(n, [line]), Float32Array.from(spectrum(n, [line]))]) {
        const d = decompose(f)
        expect(d.components).toHaveLength(1)
        expect(d.components[0].mean).toBeCloseTo(line.mean, 3)
        expect(d.components[0].stddev).toBeCloseTo(stddev, 3)
      }
    }
  })

  it("fewer than 10 finite channels are not fitted (ok, no components, rms estimated)", () => {
    const d = decompose(Float64Array.of(0.1, -0.2, 5, 0.3, -0.1))
    expect(d.status).toBe("ok")
    expect(d.components).toEqual([])
    expect(d.rms).toBeGreaterThan(0)
    const sparse = new Float64Array(424).fill(Number.NaN)
    sparse.set([0.1, -0.2, 5, 0.3, -0.1, 0.2, -0.3, 0.1], 100)
    expect(decompose(sparse)).toMatchObject({ status: "ok", components: [], nanChannels: 416 })
  })

  it("scales exactly: data × 2^100 gives the same fit × 2^100, and 1e30 data fits", () => {
    const f = spectrum(424, line, 0.1, 6)
    const big = f.map((v) => v * 2 ** 100)
    const a = decompose(f)
    const b = decompose(big)
    expect(b.components.map((c) => [c.amplitude / 2 ** 100, c.mean, c.stddev])).toEqual(
      a.components.map((c) => [c.amplitude, c.mean, c.stddev])
    )
    const huge = decompose(Float32Array.from(f, (v) => v * 1e30))
    expect(huge.components).toHaveLength(1)
    expect(huge.components[0].amplitude / 1e30).toBeCloseTo(2, 1)
  })

  it("denormal and tiny data give finite components, never NaN", () => {
    const tiny = spectrum(424, line, 0.1, 6).map((v) => v * 1e-310)
    const d = decompose(tiny)
    expect(d.status).toBe("ok")
    expect(d.components).toHaveLength(1)
    expect(finiteComponents(d)).toBe(true)
    const denormal32 = Float32Array.from(spectrum(424, line, 0.1, 6), (v) => v * 1e-40)
    expect(finiteComponents(decompose(denormal32))).toBe(true)
  })

  it("rejects anything but a Float32Array or Float64Array", () => {
    expect(() => decompose([1, 2, 3] as never)).toThrow(TypeError)
    expect(() => decompose(new Int16Array(10) as never)).toThrow(TypeError)
    expect(() => decompose(new Float32Array(65537))).toThrow(RangeError)
  })
})
