/**
 * The slow worker: an SQS batch of `slow` messages, each one `Pipeline.handleSlow` (the
 * deferred spectra of a chunk, refitted with no per-spectrum budget). Answers with a
 * partial batch response; a run that settles is sent to the catalog queue.
 *
 * @since 0.1.0
 */
import { Pipeline } from "@phs/core"
import { fromEnv, once, queueHandler } from "./setup.js"

/**
 * The handler over a setup (tests pass their own runtime).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = queueHandler("slowWorker", "slow", (setup, body) => Pipeline.handleSlow(setup.pipeline ?? Pipeline.standard, body))

/**
 * The Lambda entry point: the runtime is built from the environment on the first invocation.
 *
 * @since 0.1.0
 * @category handlers
 */
export const handler = make(once(() => fromEnv()))
