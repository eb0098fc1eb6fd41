import { DEFAULT_PARAMS } from "@phs/fit-native"
import { describe, expect, it } from "@effect/vitest"
import { CHANGED_MARK, DEFAULT_REFIT_OPTIONS, matchedSupportOf, type Neighbour, refitBlock, type RefitRow, supportOf } from "../../src/refit/index.js"
import type { DecompositionRow } from "../../src/ResultSchema.js"
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

  it("keeps a new solution only where AICc + the neighbour terms (count disagreement, shared components) fall", () => {
    const { coherence, rewardShare, supportReward } = DEFAULT_REFIT_OPTIONS
    const r = refitBlock({ map: field, block: { x0: 0, y0: 0, nx: 20, ny: 20 }, rows: field.rows, params: DEFAULT_PARAMS, options: { passes: 1 }, spectrum: (x, y) => field.spectra[y * 20 + x] })
    // one pass reads only the fit's rows: the neighbour terms are with those
    const neighbours = (x: number, y: number): Array<Neighbour> => {
      const out: Array<Neighbour> = []
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          if ((dx === 0 && dy === 0) || x + dx < 0 || y + dy < 0 || x + dx >= 20 || y + dy >= 20) continue
          const n = field.rows[(y + dy) * 20 + x + dx]
          if (n.rms !== null) out.push({ row: n, weight: 1 / Math.hypot(dx, dy) })
        }
      return out
    }
    const criterion = (row: DecompositionRow) => {
      const ns = neighbours(row.x, row.y)
      const total = ns.reduce((t, n) => t + n.weight, 0)
      const disagreement = ns.reduce((t, n) => (n.row.n_components !== row.n_components ? t + n.weight : t), 0) / total
      let reward = 0
      // each neighbour component supports one of the row's components at most
      const comps = row.component_means.map((mean, i) => ({ mean, stddev: row.component_stddevs[i] }))
      for (const share of matchedSupportOf(comps, ns)) if (share >= rewardShare) reward += supportReward * share
      return (row.aicc as number) + coherence * disagreement - reward
    }
    let raisedAicc = 0
    for (const row of r.rows) {
      const before = field.rows[row.y * 20 + row.x]
      if (row.refit === null) {
        expect(row).toStrictEqual({ ...before, refit: null })
        continue
      }
      expect(criterion(row)).toBeLessThan(criterion(before))
      if ((row.aicc as number) > (before.aicc as number)) raisedAicc++
    }
    expect(r.refitted).toBeGreaterThan(0)
    // the neighbour term is what lets a refit trade some fit for coherence
    expect(raisedAicc).toBeGreaterThan(0)
  })

  it("gives the same rows in one call of n passes as in n chained calls of one pass (the fan-out stages)", () => {
    const spectrum = (x: number, y: number) => field.spectra[y * 20 + x]
    const block = { x0: 0, y0: 0, nx: 20, ny: 20 }
    const once = refitBlock({ map: field, block, rows: field.rows, params: DEFAULT_PARAMS, options: { passes: 3 }, spectrum }).rows
    let rows: ReadonlyArray<RefitRow> = field.rows.map((row) => ({ ...row, refit: null }))
    for (let pass = 0; pass < 3; pass++) rows = refitBlock({ map: field, block, rows, params: DEFAULT_PARAMS, options: { passes: 1 }, spectrum }).rows
    expect(rows).toStrictEqual(once)
  })

  it("gives the same rows when chained calls revisit only the neighbourhoods the last pass changed, for fewer fits", () => {
    const spectrum = (x: number, y: number) => field.spectra[y * 20 + x]
    const block = { x0: 0, y0: 0, nx: 20, ny: 20 }
    const chain = (skip: boolean) => {
      let rows: ReadonlyArray<RefitRow> = field.rows.map((row) => ({ ...row, refit: null }))
      let fits = 0
      for (let pass = 1; pass <= 3; pass++) {
        const r = refitBlock({
          map: field, block, rows, params: DEFAULT_PARAMS, options: { passes: 1 }, spectrum,
          ...(skip ? { revisit: pass === 1 ? "all" : "changed", markChanged: pass < 3 } : {})
        })
        // only an intermediate pass marks, and only rows it changed
        if (skip && pass < 3) expect(r.rows.some((row) => row.refit?.endsWith(CHANGED_MARK))).toBe(true)
        rows = r.rows
        fits += r.fits
      }
      return { rows, fits }
    }
    const all = chain(false)
    const changed = chain(true)
    expect(changed.rows).toStrictEqual(all.rows)
    expect(changed.rows.some((row) => row.refit?.endsWith(CHANGED_MARK))).toBe(false)
    expect(changed.fits).toBeLessThan(all.fits)
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
