/**
 * The mosaic grid (core `Mosaic.Grid`): tiles cut from one field are placed by their CRPIX
 * offsets whatever their order, the grid's WCS is the field's, and tiles that do not share a
 * grid are refused with the cubes named. The per-pixel quantities (`Mosaic.Quantities`)
 * against values computed here from their definitions in docs/results.md.
 */
import { describe, expect, it } from "vitest"
import { Grid, Quantities, Stitch } from "../packages/core/src/mosaic/index.js"
import type { DecompositionRow } from "../packages/core/src/ResultSchema.js"
import * as Wcs from "../packages/core/src/wcs/Wcs.js"

type Cards = Record<string, string | number | boolean>

const FIELD: Cards = {
  NAXIS: 3, NAXIS1: 7, NAXIS2: 5, NAXIS3: 10,
  CTYPE1: "GLON-CAR", CTYPE2: "GLAT-CAR", CRVAL1: 0, CRVAL2: 0, CRPIX1: 9011.690989186, CRPIX2: -50.1382127124,
  CDELT1: -0.00615, CDELT2: 0.00615, CUNIT1: "deg", CUNIT2: "deg",
  CTYPE3: "VRAD", CRVAL3: 0, CRPIX3: 1, CDELT3: 1000, CUNIT3: "m/s"
}

const cut = (cube: string, x0: number, y0: number, nx: number, ny: number, base: Cards = FIELD): Grid.Tile => ({
  cube,
  nx,
  ny,
  cards: { ...base, NAXIS1: nx, NAXIS2: ny, CRPIX1: (base.CRPIX1 as number) - x0, CRPIX2: (base.CRPIX2 as number) - y0 }
})

const TILES = [cut("d", 4, 3, 3, 2), cut("a", 0, 0, 4, 3), cut("c", 0, 3, 4, 2), cut("b", 4, 0, 3, 3)]

const asGrid = (g: Grid.Grid | Grid.MosaicMismatch): Grid.Grid => {
  if (g instanceof Grid.MosaicMismatch) throw new Error(g.message)
  return g
}

describe("Mosaic.Grid", () => {
  it("places tiles cut from one field at their corners, whatever their order", () => {
    const g = asGrid(Grid.grid(TILES))
    expect([g.nx, g.ny, g.reference]).toEqual([7, 5, "a"])
    expect(g.tiles.map((t) => [t.cube, t.dx, t.dy])).toEqual([["a", 0, 0], ["b", 4, 0], ["c", 0, 3], ["d", 4, 3]])
    const reversed = asGrid(Grid.grid([...TILES].reverse()))
    expect(reversed.tiles).toEqual(g.tiles)
  })

  it("gives the grid the field's WCS: every grid pixel has the field's (lon, lat)", () => {
    const g = asGrid(Grid.grid([TILES[0], TILES[3]])) // tiles b and d: the grid starts at the field's x = 4
    const field = Wcs.fromCards(FIELD)
    const grid = Wcs.fromCards(g.cards)
    if (field.linear._tag !== "Linear" || field.celestial._tag !== "Celestial") throw new Error("field WCS")
    if (grid.linear._tag !== "Linear" || grid.celestial._tag !== "Celestial") throw new Error("grid WCS")
    expect([g.nx, g.ny, g.cards.NAXIS1, g.cards.NAXIS2]).toEqual([3, 5, 3, 5])
    for (let y = 0; y < g.ny; y++) {
      for (let x = 0; x < g.nx; x++) {
        const a = Wcs.celestialAt(grid.linear, grid.celestial, [x + 1, y + 1, 1])!
        const b = Wcs.celestialAt(field.linear, field.celestial, [x + 4 + 1, y + 1, 1])!
        expect(Math.abs(a.lon - b.lon) + Math.abs(a.lat - b.lat)).toBeLessThan(1e-12)
      }
    }
  })

  it("gives each overlapped pixel to the first tile in cube order", () => {
    const g = asGrid(Grid.grid([cut("b", 2, 0, 3, 3), cut("a", 0, 0, 3, 3)]))
    expect(Array.from(Grid.owners(g).slice(0, g.nx))).toEqual([0, 0, 0, 1, 1])
  })

  const mismatch = (tiles: ReadonlyArray<Grid.Tile>): Grid.MosaicMismatch => {
    const r = Grid.grid(tiles)
    if (!(r instanceof Grid.MosaicMismatch)) throw new Error("expected a mismatch")
    return r
  }

  it("refuses tiles of another projection or frame, naming the cubes", () => {
    const tan = mismatch([...TILES, cut("e", 0, 0, 2, 2, { ...FIELD, CTYPE1: "GLON-TAN", CTYPE2: "GLAT-TAN" })])
    expect(tan.cubes).toEqual(["e"])
    expect(tan.message).toBe("cannot mosaic: e differs from a in projection or frame (CAR, galactic)")
    const icrs = mismatch([cut("z", 0, 0, 2, 2, { ...FIELD, CTYPE1: "RA---CAR", CTYPE2: "DEC--CAR", RADESYS: "ICRS" }), ...TILES])
    expect(icrs.cubes).toEqual(["z"])
    expect(icrs.message).toContain("projection or frame")
  })

  it("refuses tiles of another pixel scale, rotation, CRVAL or a fractional offset", () => {
    expect(mismatch([TILES[1], cut("e", 0, 0, 2, 2, { ...FIELD, CDELT1: -0.01 })]).what).toContain("pixel scale or rotation")
    expect(mismatch([TILES[1], cut("e", 0, 0, 2, 2, { ...FIELD, CROTA2: 5 })]).what).toContain("pixel scale or rotation")
    expect(mismatch([TILES[1], cut("e", 0, 0, 2, 2, { ...FIELD, CRVAL1: 1 })]).what).toContain("CRVAL")
    expect(mismatch([TILES[1], cut("e", 0.5, 0, 2, 2)]).what).toContain("whole-pixel")
    expect(asGrid(Grid.grid([TILES[1], cut("e", 1 + 5e-7, 0, 2, 2)])).tiles[1].dx).toBe(1)
  })

  it("refuses tiles without a celestial WCS", () => {
    const { CTYPE1: _a, CTYPE2: _b, ...bare } = FIELD
    expect(mismatch([TILES[1], cut("e", 0, 0, 2, 2, bare)]).message).toBe("cannot mosaic: e differs from a in having no usable celestial WCS (see phs status)")
  })
})

const row = (x: number, y: number, comps: ReadonlyArray<{ a: number; v: number; s: number }>, extra: Partial<DecompositionRow> = {}): DecompositionRow => ({
  x, y, beta: 1, rms: 0.1, min_persistence: null, n_components: comps.length,
  component_amplitudes: comps.map((c) => c.a), component_means: comps.map((c) => c.v), component_stddevs: comps.map((c) => c.s),
  nan_channels: 0, residual_rms: 0.1, chi2_reduced: 1.25, aicc: 0,
  component_amplitude_errors: [], component_mean_errors: [], component_stddev_errors: [],
  run_id: "r", cube: "a", lon: 0, lat: 0,
  component_velocities: comps.map((c) => c.v), component_velocity_dispersions: comps.map((c) => c.s),
  component_integrated_intensities: comps.map((c) => c.a * c.s * Math.sqrt(2 * Math.PI)),
  ...extra
})

describe("Mosaic.Quantities", () => {
  const two = row(0, 0, [{ a: 2, v: 10, s: 1 }, { a: 1, v: 20, s: 3 }])
  const I = [2 * 1, 1 * 3].map((x) => x * Math.sqrt(2 * Math.PI))

  it("integrated intensity, moments and brightest velocity from the components", () => {
    const mean = (I[0] * 10 + I[1] * 20) / (I[0] + I[1])
    const disp = Math.sqrt((I[0] * (1 + (10 - mean) ** 2) + I[1] * (9 + (20 - mean) ** 2)) / (I[0] + I[1]))
    expect(Quantities.valueOf("integrated_intensity", two)).toBeCloseTo(I[0] + I[1], 12)
    expect(Quantities.valueOf("mean_velocity", two)).toBeCloseTo(mean, 12)
    expect(Quantities.valueOf("velocity_dispersion", two)).toBeCloseTo(disp, 12)
    expect(Quantities.valueOf("brightest_velocity", two)).toBe(10)
    expect(Quantities.valueOf("n_components", two)).toBe(2)
    expect(Quantities.valueOf("chi2_reduced", two)).toBe(1.25)
    expect(Quantities.valueOf("rms", two)).toBe(0.1)
  })

  it("no value for blank, deferred, componentless or world-less rows where undefined", () => {
    const none = row(0, 0, [])
    expect([Quantities.valueOf("integrated_intensity", none), Quantities.valueOf("mean_velocity", none), Quantities.valueOf("n_components", none)]).toEqual([0, null, 0])
    expect(Quantities.valueOf("rms", row(0, 0, [], { rms: null }))).toBe(null)
    expect(Quantities.valueOf("n_components", row(0, 0, [], { n_components: -1 }))).toBe(null)
    const noWorld = row(0, 0, [{ a: 1, v: 1, s: 1 }], { component_velocities: null, component_velocity_dispersions: null, component_integrated_intensities: null })
    expect(Quantities.QUANTITY_NAMES.map((q) => Quantities.valueOf(q, noWorld))).toEqual([1, null, null, null, null, 0.1, 1.25])
  })

  it("stitches each tile's rows at its offset", () => {
    const g = asGrid(Grid.grid([cut("a", 0, 0, 1, 1), cut("b", 1, 0, 1, 1)]))
    const map = Stitch.stitch(g, new Map([["a", [two]], ["b", [row(0, 0, [{ a: 1, v: 5, s: 1 }])]]]), (r) => Quantities.valueOf("brightest_velocity", r))
    expect(Array.from(map)).toEqual([10, 5])
  })
})
