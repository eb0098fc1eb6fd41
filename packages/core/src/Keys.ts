/**
 * The blob layout (DESIGN.md): the same keys in a bucket and in a local directory.
 *
 * @since 0.1.0
 */

const pad = (n: number, width: number): string => String(n).padStart(width, "0")

/**
 * @since 0.1.0
 * @category keys
 */
export const chunkName = (start: number): string => `chunk-${pad(start, 7)}`

/**
 * A chunk's spectra as float32, spectrum-major, written by split.
 *
 * @since 0.1.0
 * @category keys
 */
export const chunkPayload = (runId: string, start: number): string => `chunks/${runId}/${chunkName(start)}.f32`

/**
 * A chunk's results, written by fit and replaced by slow-fit.
 *
 * @since 0.1.0
 * @category keys
 */
export const chunkResult = (runId: string, start: number): string => `chunks/${runId}/${chunkName(start)}.parquet`

/**
 * The partition prefix of a survey in the result table.
 *
 * @since 0.1.0
 * @category keys
 */
export const surveyPartition = (survey: string): string => `decompositions/survey=${survey}/`

/**
 * A compacted part of a run's results, named by the run id.
 *
 * @since 0.1.0
 * @category keys
 */
export const resultPart = (survey: string, runId: string, part: number): string =>
  `${surveyPartition(survey)}${runId}-${pad(part, 4)}.parquet`

/**
 * Per-run metadata written by catalog (`_stage_config.json`, `_validation.json`).
 * Outside `decompositions/` so that table scans never meet it.
 *
 * @since 0.1.0
 * @category keys
 */
export const runMeta = (runId: string, name: string): string => `runs/${runId}/${name}`

/**
 * Where a local `phs pipeline` puts the cube it was given.
 *
 * @since 0.1.0
 * @category keys
 */
export const cube = (survey: string, sha256: string): string => `cubes/${survey}-${sha256.slice(0, 16)}.fits`
