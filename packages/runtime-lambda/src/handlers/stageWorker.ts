/**
 * The stage worker: an SQS batch of `stage` messages — the chunks of every user fan-out
 * stage, on one queue, routed by the stage name in the message — each one
 * `Pipeline.handleStage`. Answers with a partial batch response; when a stage finishes its
 * last chunk the run is sent to the catalog queue, whose `finishRun` starts the next
 * fan-out stage or the catalog.
 *
 * @since 0.3.0
 */
import { Pipeline } from "@phs/core"
import { fromEnv, once, queueHandler } from "./setup.js"

/**
 * The handler over a setup (tests pass their own runtime and pipeline).
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = queueHandler("stageWorker", "stage", (pipeline, body) => Pipeline.handleStage(pipeline, body, Pipeline.errorText))

/**
 * The Lambda entry point: the runtime is built from the environment on the first invocation.
 *
 * @since 0.3.0
 * @category handlers
 */
export const handler = make(once(() => fromEnv()))
