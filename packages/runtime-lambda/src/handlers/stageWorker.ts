/**
 * The stage worker: an SQS batch of `stage` messages — the chunks of every fan-out stage
 * (the coherent refit's passes, a user's), on one queue, routed by the stage name in the
 * message — each one `Pipeline.handleStage` over the pipeline its run was started with
 * (`pipelineOf`: its refit mode). Answers with a partial batch response; when a stage
 * finishes its last chunk the run is sent to the catalog queue, whose `finishRun` starts the
 * next fan-out stage or the catalog.
 *
 * @since 0.3.0
 */
import { Pipeline, Tasks } from "@phs/core"
import { Effect, Option } from "effect"
import { fromEnv, once, pipelineOf, queueHandler, type Setup } from "./setup.js"

/** The pipeline of the message's run; a body that is no stage task gets the standard one, which `handleStage` refuses. */
const pipelineOfMessage = (setup: Setup, body: string) =>
  setup.pipeline !== undefined
    ? Effect.succeed(setup.pipeline)
    : Effect.flatMap(Effect.option(Pipeline.decodeMessage(Tasks.StageTask, body)), (task) =>
        Option.match(task, {
          onNone: () => Effect.succeed(Pipeline.standard),
          onSome: (t) => Effect.map(Pipeline.getRun(t.runId), (run) => pipelineOf(setup, run))
        })
      )

/**
 * The handler over a setup (tests pass their own runtime, and may pass a pipeline).
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = queueHandler("stageWorker", "stage", (setup, body) =>
  Effect.flatMap(pipelineOfMessage(setup, body), (pipeline) => Pipeline.handleStage(pipeline, body, Pipeline.errorText))
)

/**
 * The Lambda entry point: the runtime is built from the environment on the first invocation.
 *
 * @since 0.3.0
 * @category handlers
 */
export const handler = make(once(() => fromEnv()))
