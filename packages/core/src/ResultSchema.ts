/**
 * The result table `phspectra.decompositions`: one row per spectrum per run, Hive-
 * partitioned by `survey` (the partition column lives in the path, not in the files).
 * `RESULT_COLUMNS` is the single description of its columns, from which the Parquet
 * schema, the Glue table and the DuckDB views are derived.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { RESULT_DATABASE } from "./Keys.js"

/**
 * A 32-bit signed integer.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Int32 = Schema.Int.pipe(Schema.between(-2147483648, 2147483647))

/** A list that may be null; the Parquet reader gives a null list as undefined. */
const NullableList = Schema.optionalWith(Schema.NullOr(Schema.Array(Schema.Number)), { default: () => null })

/**
 * One decomposed spectrum. Means and standard deviations are in channel units. A deferred
 * spectrum (over its time budget, waiting for the slow queue) has `n_components = -1` and
 * empty component lists; otherwise the component lists (values, errors and the km/s lists)
 * each hold `n_components` values, in one order (by mean); the km/s lists are null when the
 * cube has no usable spectral WCS.
 *
 * @since 0.1.0
 * @category schemas
 */
export const DecompositionRow = Schema.Struct({
  /** Pixel column (axis 1), from 0. */
  x: Int32.pipe(Schema.nonNegative()),
  /** Pixel row (axis 2), from 0. */
  y: Int32.pipe(Schema.nonNegative()),
  /** The persistence threshold β the run used. */
  beta: Schema.Number,
  /** Estimated noise of the spectrum; null when the spectrum is blank (all NaN). */
  rms: Schema.NullOr(Schema.Number),
  /** Smallest persistence among the accepted peaks; null when there are none. */
  min_persistence: Schema.NullOr(Schema.Number),
  /** Number of Gaussian components, -1 while deferred to the slow queue. */
  n_components: Int32.pipe(Schema.greaterThanOrEqualTo(-1)),
  component_amplitudes: Schema.Array(Schema.Number),
  component_means: Schema.Array(Schema.Number),
  component_stddevs: Schema.Array(Schema.Number),
  /** Channels of the spectrum that were NaN (blank) in the cube. */
  nan_channels: Int32.pipe(Schema.nonNegative()),
  /** Fit quality (docs/results.md): √(RSS / N) over the finite channels; null when blank or deferred. */
  residual_rms: Schema.NullOr(Schema.Number),
  /** RSS / σ² / (N − 3 n_components); null when blank, deferred, N ≤ 3 n_components or σ = 0. */
  chi2_reduced: Schema.NullOr(Schema.Number),
  /** AICc of the final model; null when blank, deferred or undefined. */
  aicc: Schema.NullOr(Schema.Number),
  /** 1σ errors of the components' parameters, in the order of the component lists; NaN when undetermined. */
  component_amplitude_errors: Schema.Array(Schema.Number),
  component_mean_errors: Schema.Array(Schema.Number),
  component_stddev_errors: Schema.Array(Schema.Number),
  /** The run that produced the row. */
  run_id: Schema.String,
  /** World columns (docs/wcs.md): null where the cube's WCS cannot give them. */
  cube: Schema.String,
  lon: Schema.NullOr(Schema.Number),
  lat: Schema.NullOr(Schema.Number),
  component_velocities: NullableList,
  component_velocity_dispersions: NullableList,
  component_integrated_intensities: NullableList,
  /** `--refit` runs (docs/results.md): the flag that made the refit change the spectrum; null (or absent) when unchanged. */
  refit: Schema.optional(Schema.NullOr(Schema.String))
})

/**
 * @since 0.1.0
 * @category models
 */
export type DecompositionRow = typeof DecompositionRow.Type

/**
 * Storage type of a column in the Parquet files: `list<double>` is the three-level LIST
 * group of required doubles.
 *
 * @since 0.1.0
 * @category models
 */
export type ParquetColumnType = "int32" | "double" | "list<double>" | "string"

/**
 * One column of the result table, in every dialect that needs it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResultColumn {
  readonly name: keyof DecompositionRow & string
  readonly parquet: ParquetColumnType
  /** Whether the value may be null (the channel-unit lists are never null, but may be empty). */
  readonly nullable: boolean
  readonly glue: "int" | "double" | "array<double>" | "string"
  readonly duckdb: "INTEGER" | "DOUBLE" | "DOUBLE[]" | "VARCHAR"
  readonly doc: string
}

const column = (
  name: ResultColumn["name"],
  parquet: ParquetColumnType,
  nullable: boolean,
  doc: string
): ResultColumn => ({
  name,
  parquet,
  nullable,
  glue: parquet === "int32" ? "int" : parquet === "list<double>" ? "array<double>" : parquet,
  duckdb: parquet === "int32" ? "INTEGER" : parquet === "double" ? "DOUBLE" : parquet === "list<double>" ? "DOUBLE[]" : "VARCHAR",
  doc
})

/**
 * The columns of the result files, in file order.
 *
 * @since 0.1.0
 * @category constants
 */
export const RESULT_COLUMNS: ReadonlyArray<ResultColumn> = [
  column("x", "int32", false, "pixel column (axis 1), from 0"),
  column("y", "int32", false, "pixel row (axis 2), from 0"),
  column("beta", "double", false, "persistence threshold of the run"),
  column("rms", "double", true, "noise estimate; null for a blank spectrum"),
  column("min_persistence", "double", true, "smallest persistence among accepted peaks; null when none"),
  column("n_components", "int32", false, "number of Gaussian components; -1 = deferred to the slow queue"),
  column("component_amplitudes", "list<double>", false, "component amplitudes, in the cube's units"),
  column("component_means", "list<double>", false, "component centres, in channels"),
  column("component_stddevs", "list<double>", false, "component standard deviations, in channels"),
  column("nan_channels", "int32", false, "number of NaN channels in the spectrum"),
  column("residual_rms", "double", true, "rms of data minus model over the finite channels; null when blank or deferred"),
  column("chi2_reduced", "double", true, "sum((data - model) / noise)^2 / (N - 3 n_components); null when blank, deferred or N <= 3 n_components"),
  column("aicc", "double", true, "AICc of the final model (as the refinement computes it); null when blank, deferred or undefined"),
  column("component_amplitude_errors", "list<double>", false, "1-sigma amplitude errors, in the cube's units; NaN when undetermined"),
  column("component_mean_errors", "list<double>", false, "1-sigma centre errors, in channels; NaN when undetermined"),
  column("component_stddev_errors", "list<double>", false, "1-sigma standard deviation errors, in channels; NaN when undetermined"),
  column("run_id", "string", false, "run that produced the row"),
  column("cube", "string", false, "key of the cube the spectrum comes from"),
  column("lon", "double", true, "celestial longitude of the pixel centre, degrees, in the cube's frame; null without a usable celestial WCS"),
  column("lat", "double", true, "celestial latitude of the pixel centre, degrees, in the cube's frame; null without a usable celestial WCS"),
  column("component_velocities", "list<double>", true, "component centres, km/s; null without a usable spectral WCS"),
  column("component_velocity_dispersions", "list<double>", true, "component standard deviations, km/s; null without a usable spectral WCS"),
  column("component_integrated_intensities", "list<double>", true, "component integrated intensities A·σ_v·√(2π), cube units × km/s (K km/s); null without a usable spectral WCS"),
  column("refit", "string", true, "flag that made the spatial refit change the spectrum (--refit spatial); null when unchanged or without refit")
]

/**
 * Where the table lives and how it is partitioned: the partition column is a directory
 * level (`survey=grs/`), absent from the files.
 *
 * @since 0.1.0
 * @category constants
 */
export const RESULT_TABLE = {
  database: RESULT_DATABASE,
  table: "decompositions",
  prefix: "decompositions",
  partitionColumn: { name: "survey", glue: "string", duckdb: "VARCHAR", doc: "survey the cube belongs to" }
} as const
