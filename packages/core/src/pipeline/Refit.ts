/**
 * The pipeline of a `--refit` mode: the standard one, plus the coherent refit's fan-out stages
 * (one per pass) for `spatial` (docs/fan-out-stages.md).
 *
 * @since 0.2.0
 */
import type { RefitMode } from "../Params.js"
import { refitStages } from "../refit/RefitStage.js"
import type { RunRecord } from "../RunTable.js"
import { type Pipeline, standard, withStage } from "./Compose.js"

const spatial = refitStages.reduce(withStage, standard)

/**
 * @since 0.2.0
 * @category constructors
 */
export const pipelineFor = (mode: RefitMode): Pipeline => (mode === "spatial" ? spatial : standard)

/**
 * The pipeline a run was started with, from the refit mode its record carries (absent:
 * `none`): what the aws handlers drive, so one deployment serves every kind of run.
 *
 * @since 0.3.0
 * @category constructors
 */
export const pipelineOfRun = (run: Pick<RunRecord, "refit">): Pipeline => pipelineFor(run.refit ?? "none")
