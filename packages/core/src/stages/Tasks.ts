/**
 * What flows between the stages: the schemas of stage inputs and outputs and of the queue
 * messages, shared by every runtime.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Refit } from "../Params.js"

/**
 * Run parameters as stored and sent.
 *
 * @since 0.1.0
 * @category models
 */
export const RunParams = Schema.Struct({
  beta: Schema.Number,
  snr_min: Schema.Number,
  mf_snr_min: Schema.Number,
  f_sep: Schema.Number,
  neg_thresh: Schema.Number,
  max_refine_iter: Schema.Number,
  timeout_ms: Schema.Number
})
export type RunParams = typeof RunParams.Type

/**
 * The split stage's input: a validated manifest with its run id.
 *
 * @since 0.1.0
 * @category models
 */
export const SplitInput = Schema.Struct({
  runId: Schema.String,
  survey: Schema.String,
  cubeKey: Schema.String,
  params: RunParams,
  chunkSize: Schema.Int,
  codeVersion: Schema.String,
  /** The HDU to read, when the manifest named one other than the first 3-D image. */
  hdu: Schema.optional(Schema.Int),
  /** The `--refit` mode, when it is not `none` (absent: older journals match). */
  refit: Schema.optional(Refit),
  /** The cube's file name, for the run record (absent: older journals match). */
  cubeName: Schema.optional(Schema.String)
})
export type SplitInput = typeof SplitInput.Type

/**
 * One chunk's fit: the message on the `fit` queue and the fit stage's input.
 *
 * @since 0.1.0
 * @category models
 */
export const FitTask = Schema.Struct({
  runId: Schema.String,
  survey: Schema.String,
  start: Schema.Int,
  count: Schema.Int,
  nx: Schema.Int,
  nChannels: Schema.Int,
  params: RunParams,
  payloadKey: Schema.String,
  outputKey: Schema.String
})
export type FitTask = typeof FitTask.Type

/**
 * A chunk's deferred spectra (offsets within the chunk): the `slow` queue's message.
 *
 * @since 0.1.0
 * @category models
 */
export const SlowTask = Schema.Struct({ ...FitTask.fields, deferred: Schema.Array(Schema.Int) })
export type SlowTask = typeof SlowTask.Type

/**
 * @since 0.1.0
 * @category models
 */
export const SplitOutput = Schema.Struct({
  runId: Schema.String,
  nSpectra: Schema.Int,
  blankSpectra: Schema.Int,
  tasks: Schema.Array(FitTask)
})
export type SplitOutput = typeof SplitOutput.Type

/**
 * @since 0.1.0
 * @category models
 */
export const FitOutput = Schema.Struct({
  start: Schema.Int,
  rows: Schema.Int,
  deferred: Schema.Array(Schema.Int),
  runSettled: Schema.Boolean
})
export type FitOutput = typeof FitOutput.Type

/**
 * @since 0.1.0
 * @category models
 */
export const SlowOutput = Schema.Struct({ start: Schema.Int, refitted: Schema.Int, runSettled: Schema.Boolean })
export type SlowOutput = typeof SlowOutput.Type

/**
 * A run-level stage's input (catalog, and user stages after it).
 *
 * @since 0.1.0
 * @category models
 */
export const RunRef = Schema.Struct({ runId: Schema.String })
export type RunRef = typeof RunRef.Type

/**
 * The catalog's input: the run, and the fan-out stage whose chunk results it publishes
 * (absent: the fit's). Absent stays absent when encoded, so runs without fan-out stages
 * keep their journal keys.
 *
 * @since 0.3.0
 * @category models
 */
export const CatalogInput = Schema.Struct({ runId: Schema.String, resultsFrom: Schema.optional(Schema.String) })
export type CatalogInput = typeof CatalogInput.Type

/**
 * One chunk of a user fan-out stage: the message on the shared `stage` queue (routed by
 * `stage`) and the chunk execution's input.
 *
 * @since 0.3.0
 * @category models
 */
export const StageTask = Schema.Struct({
  ...FitTask.fields,
  stage: Schema.String,
  /** The stage whose rows it reads (`fit`, or the fan-out stage before it). */
  after: Schema.String,
  ny: Schema.Int,
  chunkSize: Schema.Int
})
export type StageTask = typeof StageTask.Type

/**
 * What one chunk of a fan-out stage did.
 *
 * @since 0.3.0
 * @category models
 */
export const StageChunkOutput = Schema.Struct({ start: Schema.Int, rows: Schema.Int, stageDone: Schema.Boolean })
export type StageChunkOutput = typeof StageChunkOutput.Type
