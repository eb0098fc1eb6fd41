/**
 * The fit worker: an SQS batch of `fit` messages (the stack uses batches of 1), each one
 * `Pipeline.handleFit` with the chunk leased for the rest of the invocation and no spectrum
 * started in its last 60 s (`Deadline`). Answers with a partial batch response; a run that
 * settles is sent to the catalog queue.
 *
 * @since 0.1.0
 */
import { Pipeline, StartDeadline } from "@phs/core"
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda"
import { Effect } from "effect"
import * as Deadline from "../Deadline.js"
import { fromEnv, once, processBatch, type Setup, workRecord } from "./setup.js"

/**
 * The handler over a setup (tests pass their own runtime).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (setup: () => Setup) => (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  const s = setup()
  const pipeline = s.pipeline ?? Pipeline.standard
  return s.runtime.runPromise(
    Effect.scoped(
      processBatch(event, (record) =>
        Effect.gen(function* () {
          const remaining = context.getRemainingTimeInMillis()
          const startBefore = yield* Deadline.fromRemaining(remaining)
          return yield* workRecord({
            handler: "worker",
            queue: "fit",
            record,
            handle: Pipeline.handleFit(pipeline, record.body, s.chunkLeaseMs ?? remaining).pipe(Effect.provideService(StartDeadline, startBefore)),
            ...(s.retry === undefined ? {} : { retry: s.retry })
          })
        })
      )
    )
  )
}

/**
 * The Lambda entry point: the runtime is built from the environment on the first invocation.
 *
 * @since 0.1.0
 * @category handlers
 */
export const handler = make(once(() => fromEnv()))
