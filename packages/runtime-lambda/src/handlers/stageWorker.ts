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
import type { SQSBatchResponse, SQSEvent } from "aws-lambda"
import { Effect } from "effect"
import { fromEnv, once, processBatch, type Setup, workRecord } from "./setup.js"

/**
 * The handler over a setup (tests pass their own runtime and pipeline).
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = (setup: () => Setup) => (event: SQSEvent): Promise<SQSBatchResponse> => {
  const s = setup()
  const pipeline = s.pipeline ?? Pipeline.standard
  return s.runtime.runPromise(
    Effect.scoped(
      processBatch(event, (record) =>
        workRecord({
          handler: "stageWorker",
          queue: "stage",
          record,
          handle: Pipeline.handleStage(pipeline, record.body, Pipeline.errorText),
          ...(s.retry === undefined ? {} : { retry: s.retry })
        })
      )
    )
  )
}

/**
 * The Lambda entry point: the runtime is built from the environment on the first invocation.
 *
 * @since 0.3.0
 * @category handlers
 */
export const handler = make(once(() => fromEnv()))
