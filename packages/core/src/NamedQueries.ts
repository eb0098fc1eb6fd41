/**
 * The named queries shipped with the result table. One definition serves both engines:
 * `phs query --named NAME` runs the text locally through DuckDB (with the Presto/Trino
 * functions it lacks provided as macros), and the aws runtime registers the same text as
 * Athena named queries.
 *
 * Their output is the same to the last printed digit on every run over the same rows: every
 * ORDER BY names every grouping column, and an average or a standard deviation (whose last
 * bits depend on the order in which a parallel engine adds the values up) is rounded, to 6
 * decimals for component counts and 9 for the rms (cube units; ~1e-8 of a typical rms, far
 * above the summation noise). Medians, minima and maxima are values of the table, printed as
 * they are.
 *
 * `rms-distribution` counts each spectrum of a survey once: a survey often holds several runs
 * of one cube (other β, other settings), and the rms depends on the spectrum alone (docs/
 * algorithm.md, step 1), so every run of a cube with the same code gives it the same value.
 * Of the rows of one spectrum (cube, x, y) of a survey, the row of the greatest run id counts.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 * @category models
 */
export interface NamedQuery {
  readonly name: string
  readonly description: string
  /** Athena (Trino) SQL over `phspectra.decompositions`. */
  readonly sql: string
}

/**
 * @since 0.1.0
 * @category constants
 */
export const NAMED_QUERIES: ReadonlyArray<NamedQuery> = [
  {
    name: "beta-comparison",
    description: "Per survey and β: spectra, mean, approximate median and standard deviation of the component count",
    sql: `SELECT survey,
       beta,
       COUNT(*) AS spectra,
       ROUND(AVG(n_components), 6) AS mean_components,
       APPROX_PERCENTILE(n_components, 0.5) AS median_components,
       ROUND(STDDEV(n_components), 6) AS stddev_components
FROM phspectra.decompositions
WHERE n_components >= 0
GROUP BY survey, beta
ORDER BY survey, beta`
  },
  {
    name: "rms-distribution",
    description: "Per survey, each spectrum once: spectra, mean, approximate median, min and max of the noise rms",
    sql: `WITH spectra AS (
  SELECT survey,
         rms,
         ROW_NUMBER() OVER (PARTITION BY survey, cube, x, y ORDER BY run_id DESC) AS pick
  FROM phspectra.decompositions
)
SELECT survey,
       COUNT(*) AS spectra,
       ROUND(AVG(rms), 9) AS mean_rms,
       APPROX_PERCENTILE(rms, 0.5) AS median_rms,
       MIN(rms) AS min_rms,
       MAX(rms) AS max_rms
FROM spectra
WHERE pick = 1 AND rms IS NOT NULL
GROUP BY survey
ORDER BY survey`
  }
]

/**
 * @since 0.1.0
 * @category constructors
 */
export const find = (name: string): NamedQuery | undefined => NAMED_QUERIES.find((q) => q.name === name)
