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


export interface Quantity {
  readonly doc: string
  /** Integer-valued: drawn with a discrete colour bar. */
  readonly discrete: boolean
  readonly unit: (bunit: string | undefined, velocity: boolean) => string | undefined
  /** The value of a row (null where undefined); `v` is the velocity axis when the cube has one. */
  readonly of: (row: Row, v: VelocityAxis | undefined) => number | null
}

/** A quantity exactly as `phs plot map` / `phs export` compute it (one definition). */
const fromMaps = (name: Maps.MapValueName, discrete = false): Quantity => ({
  doc: Maps.MAP_VALUES[name].doc,
  discrete,
  unit: (b) => Maps.MAP_VALUES[name].unit(b),
  of: (row) => Maps.valueOf(name, row)
})

const usable = (row: Row) => row.n_components >= 0 && row.rms !== null

/**
 * A quantity of the brightest component in km/s, as `phs plot map` has it from the world
 * columns; the viewer also reads parts written without those columns (from the cube's linear
 * velocity axis) and, for a cube without a velocity axis, shows it in channels.
 */
const ofBrightest = (
  name: "brightest_velocity" | "brightest_dispersion",
  world: (row: Row, k: number) => number | undefined,
  channels: (row: Row, k: number, v: VelocityAxis | undefined) => number
): Quantity => ({
  doc: Maps.MAP_VALUES[name].doc,
  discrete: false,
  unit: (_b, vel) => (vel ? "km/s" : "channel"),
  of: (row, v) => {
    const k = usable(row) ? Maps.brightest(row) : -1
    if (k < 0) return null
    return world(row, k) ?? channels(row, k, v)
  }
})

/**
 * The viewer's quantities, named as `phs plot map --value` / `phs export --value` name them
 * (docs/results.md, "Quantities").
 */
export const QUANTITIES = {
  n_components: fromMaps("n_components", true),
  integrated_intensity: {
    doc: Maps.MAP_VALUES.integrated_intensity.doc,
    discrete: false,
    unit: (b) => (b === undefined ? "km/s" : `${b} km/s`),
    of: (row, v) => {
      if (!usable(row) || v === undefined) return null
      if (row.component_integrated_intensities !== null) return row.component_integrated_intensities.reduce((a, b) => a + b, 0)
      return Maps.integrated(row) * Math.abs(v.step)
    }
  },
  integrated: fromMaps("integrated"),
  brightest_velocity: ofBrightest(
    "brightest_velocity",
    (row, k) => row.component_velocities?.[k],
    (row, k, v) => (v === undefined ? row.component_means[k] : v.at(row.component_means[k]))
  ),
  brightest_dispersion: ofBrightest(
    "brightest_dispersion",
    (row, k) => row.component_velocity_dispersions?.[k],
    (row, k, v) => (v === undefined ? row.component_stddevs[k] : row.component_stddevs[k] * Math.abs(v.step))
  ),
  rms: fromMaps("rms"),
  residual_rms: fromMaps("residual_rms"),
  chi2_reduced: fromMaps("chi2_reduced"),
  nan_channels: fromMaps("nan_channels", true)
} satisfies Record<string, Quantity>

export type QuantityName = keyof typeof QUANTITIES
export const QUANTITY_NAMES = Object.keys(QUANTITIES) as ReadonlyArray<QuantityName>

/** Names the viewer's API took before its quantities were named as plot/export name them: still accepted, quietly. */
export const QUANTITY_ALIASES: Readonly<Record<string, QuantityName>> = {
  velocity: "brightest_velocity",
  dispersion: "brightest_dispersion"
}

/** The quantity a `value=` names (an alias as its quantity); undefined for no quantity. */
export const quantityNamed = (name: string): QuantityName | undefined =>
  (QUANTITY_NAMES as ReadonlyArray<string>).includes(name) ? (name as QuantityName) : Object.hasOwn(QUANTITY_ALIASES, name) ? QUANTITY_ALIASES[name] : undefined

/** What every quantity reads: whether the row is fitted (n_components) and not blank (rms). */
const BASE = ["n_components", "rms"] as const

/** The columns a quantity's `of` reads (a map reads only these). */
export const QUANTITY_COLUMNS: Record<QuantityName, ReadonlyArray<ColumnName>> = {
  n_components: BASE,
  integrated_intensity: [...BASE, "component_amplitudes", "component_stddevs", "component_integrated_intensities"],
  integrated: [...BASE, "component_amplitudes", "component_stddevs"],
  brightest_velocity: [...BASE, "component_amplitudes", "component_means", "component_velocities"],
  brightest_dispersion: [...BASE, "component_amplitudes", "component_stddevs", "component_velocity_dispersions"],
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
