/**
 * The viewer's pieces without a browser: the label file (continued, rewritten on each
 * change, refused when malformed), the hand fit of one Gaussian over a window, and the
 * velocity axis and quantities of a header.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fitWindow } from "../packages/cli/src/view/HandFit.js"
import * as Labels from "../packages/cli/src/view/Labels.js"
import * as Maps from "../packages/cli/src/plot/Maps.js"
import { QUANTITY_ALIASES, QUANTITY_COLUMNS, QUANTITY_NAMES, quantityNamed, valueOf, velocityAxis } from "../packages/cli/src/view/Quantities.js"
import { join, listAt, numberAt, ROW_COLUMNS, rowOf } from "../packages/cli/src/view/RunColumns.js"
import { fromBytes, type CubeHeader } from "../packages/core/src/Fits.js"
import { readColumns } from "../packages/core/src/ResultColumns.js"
import { decodeRows, encodeRows } from "../packages/core/src/ResultParquet.js"
import type { DecompositionRow } from "../packages/core/src/ResultSchema.js"
import { tempDir } from "./support/cli.js"

const A = "cubes/a-0000000000000000.fits"
const B = "cubes/b-1111111111111111.fits"

describe("view labels", () => {
  it.effect("continues an existing file and rewrites it on every change", () => {
    const file = path.join(tempDir("phs-labels-"), "labels.json")
    fs.writeFileSync(file, JSON.stringify({ spectra: [{ x: 3, y: 1, components: [] }] }))
    return Effect.gen(function* () {
      const labels = yield* Labels.Labels
      yield* labels.put(A, { x: 0, y: 2, category: "blend", components: [{ amplitude: 2, mean: 10.5, stddev: 3 }] })
      yield* labels.put(A, { x: 0, y: 2, components: [{ amplitude: 1, mean: 11, stddev: 2 }] })
      const onDisk = JSON.parse(fs.readFileSync(file, "utf8"))
      expect(onDisk).toEqual({ spectra: [{ x: 3, y: 1, components: [] }, { cube: A, x: 0, y: 2, components: [{ amplitude: 1, mean: 11, stddev: 2 }] }] })
      expect(yield* labels.remove(A, 3, 1)).toBe(true)
      expect(yield* labels.remove(A, 3, 1)).toBe(false)
      expect(JSON.parse(fs.readFileSync(file, "utf8")).spectra).toHaveLength(1)
      expect(fs.readdirSync(path.dirname(file))).toEqual(["labels.json"])
    }).pipe(Effect.provide(Labels.layer(file, A)))
  })

  it.effect("keeps each cube's labels apart; labels without a cube belong to the legacy cube only", () => {
    const file = path.join(tempDir("phs-labels-"), "labels.json")
    fs.writeFileSync(file, JSON.stringify({ spectra: [{ x: 3, y: 1, components: [] }] }))
    const one = [{ amplitude: 1, mean: 11, stddev: 2 }]
    return Effect.gen(function* () {
      const labels = yield* Labels.Labels
      yield* labels.put(A, { x: 1, y: 1, components: one })
      expect(yield* labels.ofCube(A)).toEqual([{ x: 1, y: 1, components: one }])
      expect(yield* labels.ofCube(B)).toEqual([{ x: 3, y: 1, components: [] }])
      expect(yield* labels.remove(A, 3, 1)).toBe(false)
      yield* labels.put(B, { x: 3, y: 1, components: one })
      expect(yield* labels.ofCube(B)).toEqual([{ x: 3, y: 1, components: one }])
      expect(yield* labels.ofCube(A)).toEqual([{ x: 1, y: 1, components: one }])
      const back = yield* Labels.read(file)
      expect(back.spectra.map((s) => [s.cube, s.x, s.y])).toEqual([[A, 1, 1], [B, 3, 1]])
    }).pipe(Effect.provide(Labels.layer(file, B)))
  })

  it.effect("without a legacy cube, labels that name no cube show for no cube", () => {
    const file = path.join(tempDir("phs-labels-"), "labels.json")
    fs.writeFileSync(file, JSON.stringify({ spectra: [{ x: 3, y: 1, components: [] }] }))
    return Effect.gen(function* () {
      const labels = yield* Labels.Labels
      expect(yield* labels.ofCube(A)).toEqual([])
      expect(yield* labels.ofCube(B)).toEqual([])
      expect((yield* labels.all).spectra).toHaveLength(1)
    }).pipe(Effect.provide(Labels.layer(file)))
  })

  it("truthOf: a cube's labels for phs tune, its own before unlabelled ones of the same pixel", () => {
    const spectra = [
      { x: 0, y: 0, components: [] },
      { x: 1, y: 0, components: [] },
      { cube: A, x: 1, y: 0, category: "own", components: [] },
      { cube: B, x: 2, y: 0, components: [] }
    ]
    expect(Labels.truthOf({ spectra, categories: ["own"] }, A)).toEqual({
      json: { categories: ["own"], spectra: [{ x: 0, y: 0, components: [] }, { x: 1, y: 0, category: "own", components: [] }] },
      others: 1
    })
    expect(Labels.truthOf({ spectra }, B).json).toEqual({ spectra: [{ x: 0, y: 0, components: [] }, { x: 1, y: 0, components: [] }, { x: 2, y: 0, components: [] }] })
    expect(Labels.truthOf("not a file", A)).toEqual({ json: "not a file", others: 0 })
  })

  it.effect("refuses a file that is not a label file", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir("phs-labels-"), "bad.json")
      fs.writeFileSync(file, JSON.stringify({ spectra: [{ x: -1, y: 0, components: [] }] }))
      const r = yield* Effect.either(Labels.read(file))
      expect(Either.isLeft(r) && r.left.message).toContain("is not a label file")
    })
  )
})

describe("view hand fit", () => {
  it.effect("recovers one Gaussian from the window it was dragged over", () =>
    Effect.gen(function* () {
      const n = 200
      let s = 7
      const noise = () => ((s = (s * 16807) % 2147483647) / 2147483647 - 0.5) * 0.1
      const spectrum = Float32Array.from({ length: n }, (_, c) => 2 * Math.exp(-0.5 * ((c - 120.3) / 4.2) ** 2) + 0.8 * Math.exp(-0.5 * ((c - 40) / 3) ** 2) + noise())
      const g = yield* fitWindow(spectrum, 100, 140, 0.03)
      expect(g.amplitude).toBeCloseTo(2, 1)
      expect(g.mean).toBeCloseTo(120.3, 0)
      expect(g.stddev).toBeCloseTo(4.2, 0)
      const tooSmall = yield* Effect.either(fitWindow(spectrum, 10, 12, 0.03))
      expect(Either.isLeft(tooSmall)).toBe(true)
      const outside = yield* Effect.either(fitWindow(spectrum, 190, 210, 0.03))
      expect(Either.isLeft(outside)).toBe(true)
    })
  )
})

describe("view quantities", () => {
  const header = (cards: Record<string, string | number>) => ({ cards }) as unknown as CubeHeader
  const row = {
    x: 0, y: 0, beta: 3.5, rms: 0.1, min_persistence: 0.35, n_components: 2,
    component_amplitudes: [1, 3], component_means: [10, 20], component_stddevs: [2, 4],
    nan_channels: 0, residual_rms: 0.1, chi2_reduced: 1.1, aicc: 0,
    component_amplitude_errors: [0, 0], component_mean_errors: [0, 0], component_stddev_errors: [0, 0], run_id: "r",
    lon: null, lat: null, component_velocities: null, component_velocity_dispersions: null, component_integrated_intensities: null
  } satisfies DecompositionRow

  it("reads a velocity axis in m/s as km/s, and none from a frequency axis", () => {
    const v = velocityAxis(header({ CTYPE3: "VELO-LSR", CRVAL3: -5000, CRPIX3: 1, CDELT3: 250, CUNIT3: "m/s" }))!
    expect(v.at(0)).toBe(-5)
    expect(v.at(20)).toBe(0)
    expect(v.step).toBe(0.25)
    expect(velocityAxis(header({ CTYPE3: "FREQ", CRVAL3: 1e9, CRPIX3: 1, CDELT3: 1e3 }))).toBeUndefined()
  })

  it("maps the brightest component's velocity and dispersion, and the integrated intensity in km/s and in channels", () => {
    const v = velocityAxis(header({ CTYPE3: "VRAD", CRVAL3: 0, CRPIX3: 1, CDELT3: 500 }))!
    expect(valueOf("brightest_velocity", row, v)).toBe(10)
    expect(valueOf("brightest_dispersion", row, v)).toBe(2)
    expect(valueOf("brightest_velocity", row, undefined)).toBe(20)
    const channels = (1 * 2 + 3 * 4) * Math.sqrt(2 * Math.PI)
    expect(valueOf("integrated_intensity", row, v)).toBeCloseTo(channels * 0.5, 12)
    expect(valueOf("integrated_intensity", row, undefined)).toBeNull()
    for (const axis of [v, undefined]) expect(valueOf("integrated", row, axis)).toBeCloseTo(channels, 12)
    expect(valueOf("brightest_velocity", { ...row, n_components: -1, component_amplitudes: [], component_means: [], component_stddevs: [] }, v)).toBeNull()
    expect(valueOf("chi2_reduced", { ...row, rms: null }, v)).toBeNull()
    // the table's world columns, when the fit wrote them, win over the header read here
    const world = { ...row, component_velocities: [7, 8], component_velocity_dispersions: [1.5, 2.5], component_integrated_intensities: [3, 4] }
    expect(valueOf("brightest_velocity", world, v)).toBe(8)
    expect(valueOf("brightest_dispersion", world, v)).toBe(2.5)
    expect(valueOf("integrated_intensity", world, v)).toBe(7)
    expect(valueOf("integrated", world, v)).toBeCloseTo(channels, 12)
  })

  it("are named and defined as phs plot map / phs export have them: on a row with world columns and a velocity axis, the same values", () => {
    const v = velocityAxis(header({ CTYPE3: "VRAD", CRVAL3: 0, CRPIX3: 1, CDELT3: 500 }))!
    const rows = [
      { ...row, component_velocities: [7, 8], component_velocity_dispersions: [1.5, 2.5], component_integrated_intensities: [3, 4] },
      { ...row, n_components: 0, component_amplitudes: [], component_means: [], component_stddevs: [], component_velocities: [], component_velocity_dispersions: [], component_integrated_intensities: [] },
      { ...row, rms: null, nan_channels: 64 },
      { ...row, n_components: -1 }
    ]
    for (const q of QUANTITY_NAMES) {
      expect(Maps.MAP_VALUE_NAMES, q).toContain(q)
      for (const [i, r] of rows.entries()) expect(valueOf(q, r, v), `${q} row ${i}`).toBe(Maps.valueOf(q, r))
    }
  })

  it("old names of the viewer's API name the same quantities; anything else is no quantity", () => {
    expect(quantityNamed("velocity")).toBe("brightest_velocity")
    expect(quantityNamed("dispersion")).toBe("brightest_dispersion")
    for (const q of QUANTITY_NAMES) expect(quantityNamed(q)).toBe(q)
    for (const alias of Object.keys(QUANTITY_ALIASES)) expect(QUANTITY_NAMES as ReadonlyArray<string>).not.toContain(alias)
    for (const bad of ["bogus", "toString", "__proto__", "constructor", ""]) expect(quantityNamed(bad), bad).toBeUndefined()
  })
})

describe("view columns", () => {
  // rows of every kind: fitted with and without km/s columns, none, deferred, blank
  const rows: ReadonlyArray<DecompositionRow> = Array.from({ length: 40 }, (_, i) => {
    const n = i === 3 ? -1 : i % 4
    const k = Math.max(n, 0)
    const list = (f: (j: number) => number) => Array.from({ length: k }, (_, j) => f(j))
    const world = i % 3 !== 0
    return {
      x: i % 8, y: Math.floor(i / 8), beta: 3.5, rms: i === 6 ? null : 0.1 + i / 100, min_persistence: null, n_components: n,
      component_amplitudes: list((j) => 1 + ((i * 7 + j * 3) % 5)), component_means: list((j) => 10 + 9 * j + i), component_stddevs: list((j) => 1 + j),
      nan_channels: i === 6 ? 50 : i % 2, residual_rms: n < 0 ? null : 0.12, chi2_reduced: n < 0 ? null : 1 + i / 50, aicc: null,
      component_amplitude_errors: list(() => 0), component_mean_errors: list(() => 0), component_stddev_errors: list(() => 0),
      run_id: "r", cube: "c", lon: null, lat: null,
      component_velocities: world ? list((j) => -5 + j) : null, component_velocity_dispersions: world ? list((j) => 0.5 + j) : null,
      component_integrated_intensities: world ? list((j) => 2 + j) : null, refit: null
    }
  })

  it.effect("every quantity reads the same value from its own columns as from the whole row", () =>
    Effect.gen(function* () {
      const bytes = encodeRows(rows)
      const decoded = yield* decodeRows(bytes)
      const v = velocityAxis(({ cards: { CTYPE3: "VRAD", CRVAL3: 0, CRPIX3: 1, CDELT3: 500 } }) as unknown as CubeHeader)
      for (const q of QUANTITY_NAMES) {
        const got = yield* readColumns(fromBytes(bytes), QUANTITY_COLUMNS[q])
        for (const axis of [v, undefined]) {
          decoded.forEach((r, i) => expect(valueOf(q, rowOf(got.columns, i, { runId: "r", cubeKey: "c" }), axis), `${q} row ${i}`).toBe(valueOf(q, r, axis)))
        }
      }
      // and the pixel's row, from every column, is the row
      const all = yield* readColumns(fromBytes(bytes), ROW_COLUMNS)
      decoded.forEach((r, i) => expect(rowOf(all.columns, i, { runId: "r", cubeKey: "c" })).toStrictEqual({ ...r, refit: null }))
    }))

  it("joins a column read from several parts in part order", () => {
    const a = { kind: "list" as const, offsets: Int32Array.from([0, 2, 2]), values: Float64Array.from([1, 2]), nulls: Uint8Array.from([0, 1]) }
    const b = { kind: "list" as const, offsets: Int32Array.from([0, 1]), values: Float64Array.from([3]), nulls: Uint8Array.from([0]) }
    const j = join([a, b])
    expect([0, 1, 2].map((i) => listAt(j, i))).toEqual([[1, 2], null, [3]])
    const n = join([{ kind: "number", values: Float64Array.from([1]), nulls: Uint8Array.from([0]) }, { kind: "number", values: Float64Array.from([Number.NaN]), nulls: Uint8Array.from([1]) }])
    expect([numberAt(n, 0), numberAt(n, 1)]).toEqual([1, null])
  })
})
