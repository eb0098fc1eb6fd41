/**
 * Summaries of a run for sweeps: what the `beta-comparison` named query shows (spectra,
 * mean, median and standard deviation of the component count) and the residual figures.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 * @category models
 */
export interface CountSummary {
  readonly spectra: number
  readonly mean: number | null
  readonly median: number | null
  /** Sample standard deviation (as SQL's STDDEV); null below two spectra. */
  readonly stddev: number | null
}

/**
 * Summarises component counts (deferred spectra, counted −1, are left out as the query does).
 *
 * @since 0.1.0
 * @category utils
 */
export const counts = (values: Iterable<number>): CountSummary => {
  const xs = [...values].filter((v) => v >= 0).sort((a, b) => a - b)
  const n = xs.length
  if (n === 0) return { spectra: 0, mean: null, median: null, stddev: null }
  const mean = xs.reduce((s, v) => s + v, 0) / n
  const median = n % 2 === 1 ? xs[(n - 1) / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2
  const stddev = n < 2 ? null : Math.sqrt(xs.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1))
  return { spectra: n, mean, median, stddev }
}
