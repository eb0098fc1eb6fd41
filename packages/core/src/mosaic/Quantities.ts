/**
 * The per-pixel quantities of a mosaic (docs/results.md, "Mosaics"), each a function of one
 * result row in physical units: velocities in km/s and intensities in K km/s, read from the
 * world columns, so a cube without a usable spectral WCS has no value for them.
 *
 * @since 0.2.0
 */
import type { DecompositionRow } from "../ResultSchema.js"

/**
 * @since 0.2.0
 * @category models
 */
export interface Quantity {
  readonly doc: string
  /** FITS BUNIT, given the cube's BUNIT (e.g. "K"); undefined for a pure number. */
  readonly unit: (bunit: string | undefined) => string | undefined
  /** Whole numbers only (a discrete colour scale). */
  readonly integer: boolean
  /** The value of a fitted, non-blank row; null when it has none. */
  readonly of: (row: DecompositionRow) => number | null
}

const sum = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0)

/** Σ I_k and the intensity-weighted first and second moments of the component velocities. */
const moments = (r: DecompositionRow): { total: number; mean: number; dispersion: number } | null => {
  const I = r.component_integrated_intensities
  const v = r.component_velocities
  const s = r.component_velocity_dispersions
  if (I === null || v === null || s === null || I.length === 0) return null
  const total = sum(I)
  if (total === 0) return null
  const mean = sum(I.map((w, k) => w * v[k])) / total
  const second = sum(I.map((w, k) => w * (s[k] * s[k] + (v[k] - mean) * (v[k] - mean)))) / total
  return { total, mean, dispersion: Math.sqrt(Math.max(0, second)) }
}

const velocityUnit = () => "km/s"

/**
 * The quantities, by the name their FITS file and `--value` carry.
 *
 * @since 0.2.0
 * @category constants
 */
export const QUANTITIES = {
  n_components: { doc: "number of Gaussian components", unit: () => undefined, integer: true, of: (r) => r.n_components },
  integrated_intensity: {
    doc: "integrated intensity, sum of the components' A*sigma_v*sqrt(2 pi)",
    unit: (b) => (b === undefined ? "km/s" : `${b} km/s`),
    integer: false,
    of: (r) => (r.component_integrated_intensities === null ? null : sum(r.component_integrated_intensities))
  },
  mean_velocity: {
    doc: "intensity-weighted mean velocity of the components",
    unit: velocityUnit,
    integer: false,
    of: (r) => moments(r)?.mean ?? null
  },
  velocity_dispersion: {
    doc: "intensity-weighted velocity dispersion of the components' summed profile",
    unit: velocityUnit,
    integer: false,
    of: (r) => moments(r)?.dispersion ?? null
  },
  brightest_velocity: {
    doc: "velocity of the component of largest amplitude",
    unit: velocityUnit,
    integer: false,
    of: (r) => {
      const v = r.component_velocities
      if (v === null || v.length === 0) return null
      let best = 0
      r.component_amplitudes.forEach((a, k) => {
        if (a > r.component_amplitudes[best]) best = k
      })
      return v[best]
    }
  },
  rms: { doc: "noise rms of the spectrum", unit: (b) => b, integer: false, of: (r) => r.rms },
  chi2_reduced: { doc: "reduced chi-squared of the fit", unit: () => undefined, integer: false, of: (r) => r.chi2_reduced }
} satisfies Record<string, Quantity>

/**
 * @since 0.2.0
 * @category models
 */
export type QuantityName = keyof typeof QUANTITIES

/**
 * @since 0.2.0
 * @category constants
 */
export const QUANTITY_NAMES = Object.keys(QUANTITIES) as ReadonlyArray<QuantityName>

/**
 * The value of one row: null for a deferred row (n_components −1), a blank spectrum (rms
 * null) and where the quantity is undefined; never NaN.
 *
 * @since 0.2.0
 * @category getters
 */
export const valueOf = (name: QuantityName, row: DecompositionRow): number | null => {
  if (row.n_components < 0 || row.rms === null) return null
  const x = (QUANTITIES[name] as Quantity).of(row)
  return x === null || !Number.isFinite(x) ? null : x
}
