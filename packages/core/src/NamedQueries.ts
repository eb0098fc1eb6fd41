/**
 * The named queries shipped with the result table. One definition serves both engines:
 * `phs query --named NAME` runs the text locally through DuckDB (with the Presto/Trino
 * functions it lacks provided as macros), and the aws runtime registers the same text as
 * Athena named queries.
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
       AVG(n_components) AS mean_components,
       APPROX_PERCENTILE(n_components, 0.5) AS median_components,
       STDDEV(n_components) AS stddev_components
FROM phspectra.decompositions
WHERE n_components >= 0
GROUP BY survey, beta
ORDER BY survey, beta`
  },
  {
    name: "rms-distribution",
    description: "Per survey: spectra, mean, approximate median, min and max of the noise rms",
    sql: `SELECT survey,
       COUNT(*) AS spectra,
       AVG(rms) AS mean_rms,
       APPROX_PERCENTILE(rms, 0.5) AS median_rms,
       MIN(rms) AS min_rms,
       MAX(rms) AS max_rms
FROM phspectra.decompositions
WHERE rms IS NOT NULL
GROUP BY survey
ORDER BY survey`
  }
]

/**
 * @since 0.1.0
 * @category constructors
 */
export const find = (name: string): NamedQuery | undefined => NAMED_QUERIES.find((q) => q.name === name)
