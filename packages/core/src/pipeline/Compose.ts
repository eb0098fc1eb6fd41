/**
 * Pipeline composition: the four stages plus any run-level stages a user appends.
 *
 * @since 0.1.0
 */
import type { BlobStore } from "../BlobStore.js"
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
 * @since 0.1.0
 * @category models
 */
export interface Pipeline {
  readonly split: typeof split
  readonly fit: typeof fit
  readonly slowFit: typeof slowFit
  readonly catalog: typeof catalog
  readonly after: ReadonlyArray<RunStage>
}

/**
 * split → fit → slow-fit → catalog.
 *
 * @since 0.1.0
 * @category constructors
 */
export const standard: Pipeline = { split, fit, slowFit, catalog, after: [] }

/**
 * Appends a run-level stage, executed once the catalog has published the run.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withStage = (pipeline: Pipeline, stage: RunStage): Pipeline => {
  const names = [pipeline.split, pipeline.fit, pipeline.slowFit, pipeline.catalog, ...pipeline.after].map((s) => s.name)
  if (names.includes(stage.name)) throw new Error(`a stage named ${stage.name} is already in the pipeline`)
  return { ...pipeline, after: [...pipeline.after, stage] }
}

/**
 * The version that goes into run ids and `_stage_config.json`. Bumped whenever the result
 * table's columns change, so a re-run makes a new run instead of returning parts written with
 * the old columns (0.2.0: fit-quality and world columns).
 *
 * @since 0.1.0
 * @category constants
 */
export const CORE_VERSION = "0.2.0"
