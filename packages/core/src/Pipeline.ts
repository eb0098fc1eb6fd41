/**
 * The pipeline and the engine that drives it, one module per job (re-exported here):
 * - pipeline/Compose: the stages of a pipeline (`standard`, `withStage`);
 * - pipeline/FanOut: user fan-out stages per chunk (`handleStage`, halo reads);
 * - pipeline/Prepare: a manifest to a run id, and the split (`prepare`, `start`);
 * - pipeline/Handlers: queue messages to stage executions (`handleFit`, `handleSlow`,
 *   `finishRun`, `abandon`);
 * - Delivery: what becomes of a handled message (ack, release, dead-letter);
 * - pipeline/LocalDriver: one machine working a run's queues (`drive`, `drain`);
 * - pipeline/Recovery: reopening failed runs and re-deriving lost intermediates;
 * - pipeline/Replay: a finished run re-executed against its journal.
 *
 * @since 0.1.0
 */
export * from "./pipeline/Compose.js"
export * from "./pipeline/FanOut.js"
export * from "./pipeline/Handlers.js"
export * from "./pipeline/LocalDriver.js"
export * from "./pipeline/Prepare.js"
export * from "./pipeline/Refit.js"
export * from "./pipeline/Recovery.js"
export * from "./pipeline/Replay.js"

/**
 * What driving a run can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type DriveError = import("effect").Effect.Effect.Error<ReturnType<typeof import("./pipeline/LocalDriver.js").drive>>
