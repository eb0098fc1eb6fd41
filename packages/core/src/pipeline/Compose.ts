/**
 * Pipeline composition: the four stages plus the stages a user adds: fan-out stages (one
 * execution per chunk, after the fit, before the catalog) and run-level stages (after the
 * catalog).
 *
 * @since 0.1.0
 */
import type { BlobStore } from "../BlobStore.js"
import * as Keys from "../Keys.js"
import type { Catalog } from "../Catalog.js"
import type { Fitter } from "../Fitter.js"
import type * as Journal from "../Journal.js"
import type { RunTable } from "../RunTable.js"
import type * as Stage from "../Stage.js"
import { catalog } from "../stages/CatalogStage.js"
import { fit } from "../stages/Fit.js"
import { slowFit } from "../stages/SlowFit.js"
import { split } from "../stages/Split.js"
import type { RunRef } from "../stages/Tasks.js"
import type { StepScope } from "../Step.js"
import type { WorkQueue } from "../WorkQueue.js"

/**
 * The services every stage may use; a runtime is a layer providing them.
 *
 * @since 0.1.0
 * @category models
 */
export type Services = BlobStore | WorkQueue | RunTable | Journal.Journal | Catalog | Fitter

/**
 * A run-level stage appended after catalog: it gets the run id and may use every service.
 * (Its output schema is existential here, hence `any`; its own module keeps the real type.)
 *
 * @since 0.1.0
 * @category models
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type RunStage = Stage.Stage<RunRef, RunRef, any, any, { readonly _tag: string; readonly message: string }, Services | StepScope>

/**
 * A user fan-out stage as the pipeline holds it (`Stage.fanOut`).
 *
 * @since 0.3.0
 * @category models
 */
export type FanOutStage = Stage.FanOut<{ readonly _tag: string; readonly message: string }, Services>

/**
 * @since 0.1.0
 * @category models
 */
export interface Pipeline {
  readonly split: typeof split
  readonly fit: typeof fit
  readonly slowFit: typeof slowFit
  readonly catalog: typeof catalog
  /** Fan-out stages, in order: each reads the rows of the one before (the first, the fit's). */
  readonly fanOut: ReadonlyArray<FanOutStage>
  readonly after: ReadonlyArray<RunStage>
}

/**
 * split → fit → slow-fit → catalog.
 *
 * @since 0.1.0
 * @category constructors
 */
export const standard: Pipeline = { split, fit, slowFit, catalog, fanOut: [], after: [] }

/**
 * Adds a stage: a fan-out stage (`Stage.fanOut`) runs per chunk after the stage it names in
 * `after`, which must be the last fan-out stage so far (or `fit`); a run-level stage runs
 * once the catalog has published the run. A bad composition is a programming error: it
 * throws at once, before any run.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withStage = (pipeline: Pipeline, stage: RunStage | FanOutStage): Pipeline => {
  const names = [pipeline.split, pipeline.fit, pipeline.slowFit, pipeline.catalog, ...pipeline.fanOut, ...pipeline.after].map((s) => s.name)
  if (names.includes(stage.name)) throw new Error(`a stage named ${stage.name} is already in the pipeline`)
  if (!("_tag" in stage)) return { ...pipeline, after: [...pipeline.after, stage] }
  if (!Keys.STAGE_NAME.test(stage.name)) throw new Error(`fan-out stage name ${JSON.stringify(stage.name)} must match ${Keys.STAGE_NAME}`)
  const previous = pipeline.fanOut.length === 0 ? pipeline.fit.name : pipeline.fanOut[pipeline.fanOut.length - 1].name
  if (stage.after !== previous) throw new Error(`fan-out stage ${stage.name} must run after ${previous}, not ${stage.after}`)
  if (!Number.isInteger(stage.halo) || stage.halo < 0) throw new Error(`fan-out stage ${stage.name}: halo must be a whole number of pixels`)
  return { ...pipeline, fanOut: [...pipeline.fanOut, stage] }
}

/**
 * The stage whose chunk results the catalog publishes: the last fan-out stage's (none: the
 * fit's).
 *
 * @since 0.3.0
 * @category utils
 */
export const publishedStage = (pipeline: Pipeline): string | undefined =>
  pipeline.fanOut.length === 0 ? undefined : pipeline.fanOut[pipeline.fanOut.length - 1].name

/**
 * The version that goes into run ids and `_stage_config.json`. Bumped whenever the result
 * table's columns change, so a re-run makes a new run instead of returning parts written with
 * the old columns (0.2.0: fit-quality and world columns).
 *
 * @since 0.1.0
 * @category constants
 */
export const CORE_VERSION = "0.2.0"
