/**
 * The per-pixel quantities the viewer maps, and the spectral axis of a run's cube
 * (channel → km/s when the header gives a linear velocity axis).
 */
import type { Fits, ResultSchema } from "@phs/core"
import * as Maps from "../plot/Maps.js"
import { linearAxis, world } from "../plot/RunData.js"
import type { ColumnName } from "./RunColumns.js"

type Row = ResultSchema.DecompositionRow

/** The cube's spectral axis as velocity, when it is one. */
export interface VelocityAxis {
  /** km/s of a (0-based, fractional) channel. */
  readonly at: (channel: number) => number
  /** km/s per channel (signed). */
  readonly step: number
}

const VELOCITY_TYPES = ["VELO", "VRAD", "VOPT", "VLSR", "FELO"]

/** The velocity axis of a cube (axis 3 with a velocity CTYPE), in km/s; undefined otherwise. */
export const velocityAxis = (header: Fits.CubeHeader): VelocityAxis | undefined => {
  const a = linearAxis(header, 3)
  if (a === undefined || !VELOCITY_TYPES.some((t) => a.ctype.toUpperCase().startsWith(t))) return undefined
  const unit = (a.cunit ?? "m/s").toLowerCase()
  const scale = unit === "km/s" ? 1 : 1 / 1000
  return { at: (c) => world(a, c) * scale, step: a.cdelt * scale }
}

/** (l, b) of a pixel from a plate carrée galactic header; undefined for other projections. */
export const galacticOf = (header: Pick<Fits.CubeHeader, "cards">): ((x: number, y: number) => { lon: number; lat: number }) | undefined => {
  const a1 = linearAxis(header, 1)
  const a2 = linearAxis(header, 2)
  if (a1 === undefined || a2 === undefined) return undefined
  if (!/^GLON(-CAR)?$/i.test(a1.ctype) || !/^GLAT(-CAR)?$/i.test(a2.ctype)) return undefined
  return (x, y) => ({ lon: world(a1, x), lat: world(a2, y) })
}


const brightest = (row: Row): number => {
  let k = -1
  for (let i = 0; i < row.component_amplitudes.length; i++) {
    if (k < 0 || row.component_amplitudes[i] > row.component_amplitudes[k]) k = i
  }
  return k
}

export interface Quantity {
  readonly doc: string
  /** Integer-valued: drawn with a discrete colour bar. */
  readonly discrete: boolean
  readonly unit: (bunit: string | undefined, velocity: boolean) => string | undefined
  /** The value of a row (null where undefined); `v` is the velocity axis when the cube has one. */
  readonly of: (row: Row, v: VelocityAxis | undefined) => number | null
}

const fromMaps = (name: Maps.MapValueName, discrete = false): Quantity => ({
  doc: Maps.MAP_VALUES[name].doc,
  discrete,
  unit: (b) => Maps.MAP_VALUES[name].unit(b),
  of: (row) => Maps.valueOf(name, row)
})

const usable = (row: Row) => row.n_components >= 0 && row.rms !== null

export const QUANTITIES = {
  n_components: fromMaps("n_components", true),
  integrated: {
    doc: "integrated intensity Σ A·σ·√(2π) of the components",
    discrete: false,
    unit: (b, vel) => `${b ?? ""} ${vel ? "km/s" : "channel"}`.trim(),
    of: (row, v) => {
      if (!usable(row)) return null
      if (v !== undefined && row.component_integrated_intensities !== null) return row.component_integrated_intensities.reduce((a, b) => a + b, 0)
      const x = Maps.integrated(row)
      return v === undefined ? x : x * Math.abs(v.step)
    }
  },
  velocity: {
    doc: "centre of the brightest component",
    discrete: false,
    unit: (_b, vel) => (vel ? "km/s" : "channel"),
    of: (row, v) => {
      const k = usable(row) ? brightest(row) : -1
      if (k < 0) return null
      return row.component_velocities?.[k] ?? (v === undefined ? row.component_means[k] : v.at(row.component_means[k]))
    }
  },
  dispersion: {
    doc: "standard deviation of the brightest component",
    discrete: false,
    unit: (_b, vel) => (vel ? "km/s" : "channel"),
    of: (row, v) => {
      const k = usable(row) ? brightest(row) : -1
      if (k < 0) return null
      return row.component_velocity_dispersions?.[k] ?? (v === undefined ? row.component_stddevs[k] : row.component_stddevs[k] * Math.abs(v.step))
    }
  },
  rms: fromMaps("rms"),
  residual_rms: {
    doc: "rms of the residual data − model",
    discrete: false,
    unit: (b) => b,
    of: (row) => (usable(row) ? row.residual_rms : null)
  },
  chi2_reduced: {
    doc: "reduced χ² of the model",
    discrete: false,
    unit: () => undefined,
    of: (row) => (usable(row) ? row.chi2_reduced : null)
  },
  nan_channels: fromMaps("nan_channels", true)
} satisfies Record<string, Quantity>

export type QuantityName = keyof typeof QUANTITIES
export const QUANTITY_NAMES = Object.keys(QUANTITIES) as ReadonlyArray<QuantityName>

/** What every quantity reads: whether the row is fitted (n_components) and not blank (rms). */
const BASE = ["n_components", "rms"] as const

/** The columns a quantity's `of` reads (a map reads only these). */
export const QUANTITY_COLUMNS: Record<QuantityName, ReadonlyArray<ColumnName>> = {
  n_components: BASE,
  integrated: [...BASE, "component_amplitudes", "component_stddevs", "component_integrated_intensities"],
  velocity: [...BASE, "component_amplitudes", "component_means", "component_velocities"],
  dispersion: [...BASE, "component_amplitudes", "component_stddevs", "component_velocity_dispersions"],
  rms: BASE,
  residual_rms: [...BASE, "residual_rms"],
  chi2_reduced: [...BASE, "chi2_reduced"],
  nan_channels: [...BASE, "nan_channels"]
}

/** A quantity's value, never NaN or ±Infinity (those become null). */
export const valueOf = (name: QuantityName, row: Row, v: VelocityAxis | undefined): number | null => {
  const q: Quantity = QUANTITIES[name]
  const x = q.of(row, v)
  return x === null || !Number.isFinite(x) ? null : x
}
