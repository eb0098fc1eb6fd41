/**
 * The fit worker: an SQS batch of `fit` messages (the stack uses batches of 1), each one
 * `Pipeline.handleFit` with the chunk leased for the rest of the invocation and no spectrum
 * started in its last 60 s (`Deadline`). Answers with a partial batch response; a run that
 * settles is sent to the catalog queue.
 *
 * @since 0.1.0
 */
import { Pipeline, RunTable, StartDeadline, Tasks } from "@phs/core"
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda"
import { Effect, Option, Schema } from "effect"
import * as Deadline from "../Deadline.js"
import { fromEnv, notifyIfSettled, once, processBatch, type Setup, workRecord } from "./setup.js"

/**
 * A fit message given up on: its chunk fails with the reason (so the run settles and says
 * why), then the message goes to the dead letters.
 */
const failChunk = (body: string, reason: string) =>
  Effect.gen(function* () {
    const task = Option.getRight(Schema.decodeUnknownEither(Schema.parseJson(Tasks.FitTask))(body))
    if (Option.isNone(task)) return
    const table = yield* RunTable.RunTable
    const failed = yield* table.failChunk(task.value.runId, task.value.start, reason).pipe(Effect.option)
    if (Option.isSome(failed)) yield* notifyIfSettled(failed.value.run)
  })

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
            giveUp: (reason) => failChunk(record.body, reason),
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
