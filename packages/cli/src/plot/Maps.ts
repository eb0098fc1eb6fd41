/**
 * Per-pixel quantities of a run, for `phs plot map` and `phs export --fits`: one name per
 * quantity, the names the viewer's quantities carry too (view/Quantities.ts; the table is
 * docs/results.md, "Quantities").
 */
import { Mosaic, type ResultSchema, type RunTable } from "@phs/core"

type Row = ResultSchema.DecompositionRow

const SQRT_2PI = Math.sqrt(2 * Math.PI)

export interface MapValue {
  readonly doc: string
  /** Unit, given the cube's BUNIT (e.g. "K"). */
  readonly unit: (bunit: string | undefined) => string | undefined
  /** The value of a fitted, non-blank row; null when it has none (e.g. a centroid of no components). */
  readonly of: (row: Row) => number | null
  /** Whether a blank spectrum (rms NULL) still has a value (only nan_channels does). */
  readonly definedWhenBlank?: boolean
  /** Whole numbers only: drawn on a discrete colour scale. */
  readonly integer?: boolean
}

/** A physical quantity of core's `Mosaic.Quantities` as a map value (one definition for maps and mosaics). */
const physical = (name: Mosaic.Quantities.QuantityName): MapValue => {
  const q: Mosaic.Quantities.Quantity = Mosaic.Quantities.QUANTITIES[name]
  return { doc: q.doc, unit: q.unit, of: q.of, integer: q.integer }
}

const sum = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0)

/** The index of the component of largest amplitude (the first of equals); −1 without components. */
export const brightest = (row: Row): number => {
  let k = -1
  for (let i = 0; i < row.component_amplitudes.length; i++) if (k < 0 || row.component_amplitudes[i] > row.component_amplitudes[k]) k = i
  return k
}

/** Integrated intensity of the components: Σ A·σ·√(2π), in cube units × channels. */
export const integrated = (row: Row): number =>
  sum(row.component_amplitudes.map((a, i) => a * row.component_stddevs[i] * SQRT_2PI))

export const MAP_VALUES = {
  n_components: physical("n_components"),
  rms: physical("rms"),
  min_persistence: { doc: "smallest persistence among the accepted peaks", unit: (b) => b, of: (r) => r.min_persistence },
  nan_channels: { doc: "blank (NaN) channels of the spectrum", unit: () => undefined, of: (r) => r.nan_channels, definedWhenBlank: true, integer: true },
  amplitude_max: {
    doc: "largest component amplitude (0 without components)",
    unit: (b) => b,
    of: (r) => (r.component_amplitudes.length === 0 ? 0 : Math.max(...r.component_amplitudes))
  },
  amplitude_sum: { doc: "sum of the component amplitudes", unit: (b) => b, of: (r) => sum(r.component_amplitudes) },
  integrated: {
    doc: "integrated intensity Σ A·σ·√(2π) of the components",
    unit: (b) => (b === undefined ? "channel" : `${b} channel`),
    of: integrated
  },
  centroid: {
    doc: "intensity-weighted mean channel of the components Σ(A·σ·μ)/Σ(A·σ)",
    unit: () => "channel",
    of: (r) => {
      const w = r.component_amplitudes.map((a, i) => a * r.component_stddevs[i])
      const total = sum(w)
      return r.component_amplitudes.length === 0 || total === 0 ? null : sum(w.map((x, i) => x * r.component_means[i])) / total
    }
  },
  sigma_mean: {
    doc: "mean component standard deviation",
    unit: () => "channel",
    of: (r) => (r.component_stddevs.length === 0 ? null : sum(r.component_stddevs) / r.component_stddevs.length)
  },
  integrated_intensity: physical("integrated_intensity"),
  mean_velocity: physical("mean_velocity"),
  velocity_dispersion: physical("velocity_dispersion"),
  brightest_velocity: physical("brightest_velocity"),
  brightest_dispersion: {
    doc: "velocity dispersion of the component of largest amplitude",
    unit: () => "km/s",
    of: (r) => {
      const s = r.component_velocity_dispersions
      const k = brightest(r)
      return s === null || k < 0 ? null : s[k]
    }
  },
  chi2_reduced: physical("chi2_reduced"),
  residual_rms: { doc: "rms of the residual data − model", unit: (b) => b, of: (r) => r.residual_rms },
  snr_max: {
    doc: "largest component amplitude over the rms",
    unit: () => undefined,
    of: (r) => (r.rms === null || r.rms === 0 ? null : (r.component_amplitudes.length === 0 ? 0 : Math.max(...r.component_amplitudes)) / r.rms)
  }
} satisfies Record<string, MapValue>

export type MapValueName = keyof typeof MAP_VALUES
export const MAP_VALUE_NAMES = Object.keys(MAP_VALUES) as ReadonlyArray<MapValueName>

/**
 * The value of one row: null for a deferred row (n_components −1), for a blank spectrum
 * (rms NULL; except nan_channels) and where the quantity is undefined; NaN never leaks out.
 */
export const valueOf = (name: MapValueName, row: Row): number | null => {
  const v: MapValue = MAP_VALUES[name]
  if (row.n_components < 0) return null
  if (row.rms === null && v.definedWhenBlank !== true) return null
  const x = v.of(row)
  return x === null || !Number.isFinite(x) ? null : x
}

/** The image of a quantity: `[y][x]` row-major (index y·nx + x), NaN where there is no value. */
export const image = (run: Pick<RunTable.RunRecord, "nx" | "ny">, rows: ReadonlyArray<Row>, name: MapValueName): Float64Array => {
  const out = new Float64Array(run.nx * run.ny).fill(Number.NaN)
  for (const row of rows) {
    if (row.x >= run.nx || row.y >= run.ny) continue
    const v = valueOf(name, row)
    out[row.y * run.nx + row.x] = v === null ? Number.NaN : v
  }
  return out
}

/** The mosaic of a quantity on a grid of tiles (core `Mosaic.Stitch`; overlaps: `Mosaic.Grid.owners`). */
export const stitch = (grid: Mosaic.Grid.Grid, rows: ReadonlyMap<string, ReadonlyArray<Row>>, name: MapValueName): Float64Array =>
  Mosaic.Stitch.stitch(grid, rows, (row) => valueOf(name, row))
