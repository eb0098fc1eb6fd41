/**
 * The blob layout (docs/architecture.md, "Blob layout"): the same keys in a bucket and in a
 * local directory, every prefix defined here and nowhere else, and the layout constants the
 * stages, the runtimes, the CDK stacks and the cost model share.
 *
 * @since 0.1.0
 */

const pad = (n: number, width: number): string => String(n).padStart(width, "0")

/**
 * The top-level prefixes of the blob store.
 *
 * @since 0.1.0
 * @category keys
 */
export const PREFIXES = {
  /** Imported cubes, named by content hash. */
  cubes: "cubes/",
  /** Run manifests (on AWS, putting one starts the run). */
  manifests: "manifests/",
  /** Chunk payloads and per-chunk results: intermediates, re-derived when lost. */
  chunks: "chunks/",
  /** Per-run metadata written by catalog. */
  runs: "runs/",
  /** The result table (Hive-partitioned by survey). */
  decompositions: "decompositions/",
  /** Athena's query results (AWS only). */
  athenaResults: "athena-results/"
} as const

/**
 * The database of the result table (Glue, Athena, and the local SQL engine's schema).
 *
 * @since 0.1.0
 * @category constants
 */
export const RESULT_DATABASE = "phspectra"

/**
 * Rows per compacted part of the result table (~50–100 MB of Parquet).
 *
 * @since 0.1.0
 * @category constants
 */
export const ROWS_PER_PART = 1_000_000

/**
 * Chunks split reads from the cube together (bounds split's memory: 16 × 500 × 424 × 4 B
 * ≈ 14 MB); also the number of cube reads per block the cost model counts.
 *
 * @since 0.1.0
 * @category constants
 */
export const SPLIT_CHUNKS_PER_BLOCK = 16

/**
 * Part size of a multipart upload to S3 (S3 needs at least 5 MiB for every part but the
 * last, and at most 10 000 parts).
 *
 * @since 0.1.0
 * @category constants
 */
export const MULTIPART_PART_BYTES = 8 * 1024 * 1024

/**
 * @since 0.1.0
 * @category keys
 */
export const chunkName = (start: number): string => `chunk-${pad(start, 7)}`

/**
 * Every intermediate blob of a run (payloads and per-chunk results).
 *
 * @since 0.1.0
 * @category keys
 */
export const runChunks = (runId: string): string => `${PREFIXES.chunks}${runId}/`

/**
 * A chunk's spectra as float32, spectrum-major, written by split.
 *
 * @since 0.1.0
 * @category keys
 */
export const chunkPayload = (runId: string, start: number): string => `${runChunks(runId)}${chunkName(start)}.f32`

/**
 * A chunk's results, written by fit and replaced by slow-fit.
 *
 * @since 0.1.0
 * @category keys
 */
export const chunkResult = (runId: string, start: number): string => `${runChunks(runId)}${chunkName(start)}.parquet`

/**
 * A chunk's rows as a user fan-out stage wrote them (under the run's intermediates, so they
 * expire and are discarded with them).
 *
 * @since 0.3.0
 * @category keys
 */
export const stageResult = (runId: string, stage: string, start: number): string =>
  `${runChunks(runId)}stage=${stage}/${chunkName(start)}.parquet`

/**
 * What a user stage may be named: it goes into blob keys, journal keys and queue messages.
 *
 * @since 0.3.0
 * @category constants
 */
export const STAGE_NAME = /^[a-z][a-z0-9-]{0,47}$/

/**
 * The partition prefix of a survey in the result table.
 *
 * @since 0.1.0
 * @category keys
 */
export const surveyPartition = (survey: string): string => `${PREFIXES.decompositions}survey=${survey}/`

/**
 * The prefix of every compacted part of one run.
 *
 * @since 0.1.0
 * @category keys
 */
export const runParts = (survey: string, runId: string): string => `${surveyPartition(survey)}${runId}-`

/**
 * A compacted part of a run's results, named by the run id.
 *
 * @since 0.1.0
 * @category keys
 */
export const resultPart = (survey: string, runId: string, part: number): string => `${runParts(survey, runId)}${pad(part, 4)}.parquet`

/**
 * Per-run metadata written by catalog (`_stage_config.json`, `_validation.json`).
 * Outside `decompositions/` so that table scans never meet it.
 *
 * @since 0.1.0
 * @category keys
 */
export const runMeta = (runId: string, name: string): string => `${PREFIXES.runs}${runId}/${name}`

/**
 * The manifest of a run (on AWS its upload starts the run).
 *
 * @since 0.1.0
 * @category keys
 */
export const manifest = (runId: string): string => `${PREFIXES.manifests}${runId}.json`

/**
 * Whether a key is a manifest (what the splitter acts on).
 *
 * @since 0.1.0
 * @category keys
 */
export const isManifest = (key: string): boolean => key.startsWith(PREFIXES.manifests) && key.endsWith(".json")

/**
 * Where a local `phs pipeline` puts the cube it was given.
 *
 * @since 0.1.0
 * @category keys
 */
export const cube = (survey: string, sha256: string): string => `${PREFIXES.cubes}${survey}-${sha256.slice(0, 16)}.fits`
