/**
 * The catalog worker: an SQS batch of `{ runId }` messages, each one `Pipeline.finishRun`
 * for a settled run over the pipeline it was started with (`pipelineOf`): its next fan-out
 * stage started, or the catalog (compact, validate, register, COMPLETED or FAILED). Idempotent: a
 * finished run, or one not settled yet, is left alone. Transient failures are retried
 * within the invocation, then after a backoff; the last delivery's failure, or a fatal
 * one, fails the run with the reason instead of leaving it CATALOGING.
 *
 * @since 0.1.0
 */
import { Delivery, Errors, Pipeline, RunTable, Step } from "@phs/core"
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda"
import { Cause, Clock, Effect, Either, Exit, Option, type Schedule, Schema } from "effect"
import * as CatalogQueue from "../CatalogQueue.js"
import { fromEnv, log, once, type Outcome, pipelineOf, processBatch, receiveCount, type Setup } from "./setup.js"

const CatalogMessage = Schema.parseJson(Schema.Struct({ runId: Schema.String }))

const finish = (setup: Setup, retry: Schedule.Schedule<unknown, unknown>, record: SQSRecord) =>
  Effect.gen(function* () {
    const started = yield* Clock.currentTimeMillis
    const done = (fields: Record<string, unknown>) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        log({ handler: "catalog", messageId: record.messageId, receiveCount: receiveCount(record), ...fields, ms: now - started })
      )
    const message = Schema.decodeUnknownOption(CatalogMessage)(record.body)
    if (Option.isNone(message)) {
      yield* done({ outcome: "refused", reason: "not a { runId } message", body: record.body.slice(0, 200) })
      return "done" as Outcome
    }
    const runId = message.value.runId
    const table = yield* RunTable.RunTable
    const exit = yield* Effect.exit(
      Effect.gen(function* () {
        const run = yield* table.getRun(runId)
        if (Option.isNone(run)) return { skipped: "no such run" }
        const r = run.value
        if (r.status === "COMPLETED" || r.status === "FAILED") return { skipped: `run is ${r.status}` }
        if (r.status === "SPLITTING" || (r.status === "RUNNING" && !RunTable.isSettled(r))) return { skipped: "run not settled" }
        // the run's own pipeline: its refit stages, if it has any, start here
        const finished = yield* Effect.retry(Pipeline.finishRun(pipelineOf(setup, r), runId), { schedule: retry, while: Errors.isRetryable })
        return { status: finished.status, reason: finished.reason }
      })
    )
    if (Exit.isSuccess(exit)) {
      yield* done({ outcome: "done", runId, ...exit.value })
      return "done" as Outcome
    }
    if (Cause.isInterruptedOnly(exit.cause)) return yield* Effect.interrupt
    const failure = Cause.failureOption(exit.cause)
    if (Option.isNone(failure)) {
      yield* done({ outcome: "retry", runId, defect: Cause.pretty(exit.cause) })
      return "retry" as Outcome
    }
    const reason = Pipeline.errorText(failure.value)
    const decision = Delivery.decide("catalog", receiveCount(record), Either.left(failure.value), Pipeline.errorText)
    if (decision._tag === "Release") {
      yield* Effect.ignore(Effect.flatMap(CatalogQueue.CatalogQueue, (q) => q.retryLater(record.receiptHandle, decision.delayMs)))
      yield* done({ outcome: "retry", runId, reason })
      return "retry" as Outcome
    }
    // The catalog cannot finish: the run fails, saying why, instead of staying CATALOGING.
    const failed = yield* Effect.exit(table.transition(runId, ["RUNNING", "CATALOGING"], "FAILED", `catalog: ${reason}`))
    if (Exit.isFailure(failed)) {
      yield* done({ outcome: "retry", runId, reason })
      return "retry" as Outcome
    }
    yield* done({ outcome: "run-failed", runId, reason })
    return "done" as Outcome
  })

/**
 * The handler over a setup (tests pass their own runtime).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (setup: () => Setup) => (event: SQSEvent): Promise<SQSBatchResponse> => {
  const s = setup()
  const retry = s.retry ?? Step.defaultRetry
  return s.runtime.runPromise(Effect.scoped(processBatch(event, (record) => finish(s, retry, record))))
}

/**
 * The Lambda entry point: the runtime is built from the environment on the first invocation.
 *
 * @since 0.1.0
 * @category handlers
 */
export const handler = make(once(() => fromEnv()))
