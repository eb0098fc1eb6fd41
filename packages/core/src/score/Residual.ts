/**
 * How well a decomposition explains its spectrum: the reduced χ² of the residual against
 * the spectrum's noise estimate, and whether that residual is consistent with noise alone
 * (docs/tuning.md).
 *
 * @since 0.1.0
 */
import type { Component } from "./Labels.js"

/**
 * A residual is consistent with noise when χ²_red ≤ 1 + this × √(2 / dof): within three
 * standard deviations of the χ² distribution's mean.
 *
 * @since 0.1.0
 * @category constants
 */
export const NOISE_SIGMAS = 3

/**
 * @since 0.1.0
 * @category models
 */
export interface Residual {
  readonly chi2Reduced: number
  /** Finite channels minus three per component. */
  readonly dof: number
  readonly consistentWithNoise: boolean
}

/**
 * The residual of `spectrum` (NaN channels skipped) against the sum of `components`, with
 * noise `rms`; undefined when there is no noise estimate or no degree of freedom left.
 *
 * @since 0.1.0
 * @category scoring
 */
export const residual = (spectrum: ArrayLike<number>, components: ReadonlyArray<Component>, rms: number | null): Residual | undefined => {
  if (rms === null || !(rms > 0)) return undefined
  let sum = 0
  let finite = 0
  for (let i = 0; i < spectrum.length; i++) {
    const v = spectrum[i]
    if (!Number.isFinite(v)) continue
    let model = 0
    for (const c of components) model += c.amplitude * Math.exp(-((i - c.mean) ** 2) / (2 * c.stddev * c.stddev))
    sum += (v - model) ** 2
    finite++
  }
  const dof = finite - 3 * components.length
  if (dof <= 0) return undefined
  const chi2Reduced = sum / (rms * rms) / dof
  return { chi2Reduced, dof, consistentWithNoise: consistentWithNoise(chi2Reduced, dof) }
}

/**
 * Whether a reduced χ² with `dof` degrees of freedom is consistent with noise alone (e.g.
 * the result table's `chi2_reduced`, with dof = finite channels − 3 · `n_components`).
 *
 * @since 0.1.0
 * @category scoring
 */
export const consistentWithNoise = (chi2Reduced: number, dof: number): boolean =>
  dof > 0 && chi2Reduced <= 1 + NOISE_SIGMAS * Math.sqrt(2 / dof)
