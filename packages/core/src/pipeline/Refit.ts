/**
 * The pipeline of a `--refit` mode: the standard one, plus the coherent refit fan-out stage
 * for `spatial` (docs/fan-out-stages.md).
 *
 * @since 0.2.0
 */
import type { RefitMode } from "../Params.js"
import { refitStage } from "../refit/RefitStage.js"
import { type Pipeline, standard, withStage } from "./Compose.js"

const spatial = withStage(standard, refitStage)

/**
 * @since 0.2.0
 * @category constructors
 */
export const pipelineFor = (mode: RefitMode): Pipeline => (mode === "spatial" ? spatial : standard)
