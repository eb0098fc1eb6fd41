import { DEFAULT_PARAMS } from "@phs/fit-native"
import { describe, expect, it } from "@effect/vitest"
import { refitBlock, type RefitRow } from "../../src/refit/index.js"
import { makeField, type Field } from "./field.js"

const refitAsBlocks = (f: Field, block: number): Array<RefitRow> => {
  const out: Array<RefitRow> = []
  const halo = 3
  for (let by = 0; by < f.ny; by += block) {
    for (let bx = 0; bx < f.nx; bx += block) {
      const b = { x0: bx, y0: by, nx: Math.min(block, f.nx - bx), ny: Math.min(block, f.ny - by) }
      const rows = f.rows.filter((r) => r.x >= bx - halo && r.x < bx + b.nx + halo && r.y >= by - halo && r.y < by + b.ny + halo)
      const r = refitBlock({ map: f, block: b, rows, params: DEFAULT_PARAMS, options: { passes: 3 }, spectrum: (x, y) => f.spectra[y * f.nx + x] })
      out.push(...r.rows)
    }
  }
  return out.sort((a, b) => a.y - b.y || a.x - b.x)
}

describe("refitBlock", () => {
  const field = makeField(20, 20, 7, (x, y) => (x === 0 && y < 5) || (x === 9 && y === 9))

  it("gives identical rows whatever the block size, and changes some", () => {
    const whole = refitAsBlocks(field, 20)
    expect(whole.filter((r) => r.refit !== null).length).toBeGreaterThan(0)
    expect(refitAsBlocks(field, 8)).toStrictEqual(whole)
    expect(refitAsBlocks(field, 16)).toStrictEqual(whole)
  })

  it("leaves blank pixels as they were and refits around them", () => {
    const rows = refitAsBlocks(field, 8)
    expect(rows).toHaveLength(400)
    for (const [x, y] of [[0, 0], [0, 4], [9, 9]]) {
      const r = rows[y * 20 + x]
      expect(r.rms).toBeNull()
      expect(r.n_components).toBe(0)
      expect(r.refit).toBeNull()
    }
  })

  it("keeps a new solution only with a lower AICc", () => {
    const rows = refitAsBlocks(field, 20)
    for (const r of rows) {
      const before = field.rows[r.y * 20 + r.x]
      if (r.refit === null) expect(r).toStrictEqual({ ...before, refit: null })
      else expect(r.aicc as number).toBeLessThan(before.aicc as number)
    }
  })

  it("reports that nothing could be refitted on a 1×N map", () => {
    const line = makeField(6, 1, 3)
    const r = refitBlock({ map: line, block: { x0: 0, y0: 0, nx: 6, ny: 1 }, rows: line.rows, params: DEFAULT_PARAMS, spectrum: (x) => line.spectra[x] })
    expect(r.refitted).toBe(0)
    expect(r.skipped).toMatch(/nothing could be refitted/)
    expect(r.rows).toStrictEqual(line.rows.map((row) => ({ ...row, refit: null })))
  })

  it("rejects a block outside the map", () => {
    expect(() => refitBlock({ map: { nx: 4, ny: 4 }, block: { x0: 2, y0: 0, nx: 4, ny: 4 }, rows: [], params: DEFAULT_PARAMS, spectrum: () => undefined })).toThrow(/not inside/)
  })
})
