import { describe, expect, it } from "vitest"
import {
  DEFAULT_PARAMS,
  decompose,
  decomposeBatch,
  InvalidFitParams,
  NATIVE_VERSION,
  PARAM_RANGES,
  validateParams
} from "@phs/fit-native"

describe("validateParams", () => {
  it("fills every missing parameter with the published default", () => {
    expect(validateParams({})).toEqual({
      beta: 3.5,
      snr_min: 1.5,
      mf_snr_min: 5.0,
      f_sep: 1.2,
      neg_thresh: 5.0,
      max_refine_iter: 3
    })
    expect(validateParams({ beta: 4, max_refine_iter: 0 })).toEqual({ ...DEFAULT_PARAMS, beta: 4, max_refine_iter: 0 })
  })

  it("documents a range for every parameter, and the defaults lie inside them", () => {
    expect(Object.keys(PARAM_RANGES).sort()).toEqual(Object.keys(DEFAULT_PARAMS).sort())
    expect(PARAM_RANGES.max_refine_iter).toMatchObject({ min: 0, max: 20, integer: true })
    expect(PARAM_RANGES.beta).toMatchObject({ min: 0, max: 100, minExclusive: true })
    expect(() => validateParams({ ...DEFAULT_PARAMS })).not.toThrow()
  })

  it("rejects unknown names and lists the valid names and ranges", () => {
    const err = (() => {
      try {
        validateParams({ beta: 3, sigma_min: 2 })
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(InvalidFitParams)
    const e = err as InvalidFitParams
    expect(e._tag).toBe("InvalidFitParams")
    expect(e.problems).toEqual(['unknown parameter "sigma_min"'])
    for (const name of Object.keys(DEFAULT_PARAMS)) expect(e.message).toContain(name)
    expect(e.message).toContain("beta (0, 100]")
    expect(e.message).toContain("max_refine_iter integer [0, 20]")
  })

  it("rejects wrong types, non-finite, non-integer and out-of-range values, one problem each", () => {
    try {
      validateParams({ beta: 0, snr_min: Number.NaN, f_sep: "1.2", max_refine_iter: 2.5, neg_thresh: Infinity, mf_snr_min: -1 })
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidFitParams)
      const p = (e as InvalidFitParams).problems
      expect(p).toHaveLength(6)
      expect(p.join("\n")).toMatch(/beta = 0 is out of range/)
      expect(p.join("\n")).toMatch(/snr_min must be finite/)
      expect(p.join("\n")).toMatch(/f_sep must be a number, got string/)
      expect(p.join("\n")).toMatch(/max_refine_iter must be an integer/)
      expect(p.join("\n")).toMatch(/neg_thresh must be finite/)
      expect(p.join("\n")).toMatch(/mf_snr_min = -1 is out of range/)
    }
    expect(() => validateParams({ max_refine_iter: 21 })).toThrow(InvalidFitParams)
    expect(() => validateParams({ beta: 100 })).not.toThrow()
    expect(() => validateParams({ beta: 100.5 })).toThrow(InvalidFitParams)
  })

  it("makes decompose throw and decomposeBatch reject with InvalidFitParams", async () => {
    const s = new Float64Array(64)
    expect(() => decompose(s, { beta: -1 })).toThrow(InvalidFitParams)
    expect(() => decompose(s, { nope: 1 } as never)).toThrow(InvalidFitParams)
    await expect(decomposeBatch(new Float32Array(64), 64, { snr_min: Number.NaN })).rejects.toBeInstanceOf(InvalidFitParams)
  })

  it("names the version with the algorithm revision", () => {
    expect(NATIVE_VERSION).toMatch(/^0\.1\.0\+alg\.\d+$/)
  })
})
