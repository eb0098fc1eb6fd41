/**
 * The message handlers every engine calls: a `fit` message (claim the chunk, run the fit
 * stage), a `slow` message (refit the deferred spectra), the catalog of a settled run, and
 * what giving up on a message means for the run.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Option, Schema } from "effect"
import type { Handled } from "../Delivery.js"
import { InvalidInput, isRetryable, RunFailed } from "../Errors.js"
import * as Keys from "../Keys.js"
import { isSettled, RunTable, type RunRecord } from "../RunTable.js"
import * as Stage from "../Stage.js"
import { FitTask, SlowTask, StageTask } from "../stages/Tasks.js"
import type { QueueName } from "../WorkQueue.js"
import { publishedStage, type Pipeline } from "./Compose.js"
import { pendingStage, startStage } from "./FanOut.js"
import { getRun } from "./Prepare.js"
import { rederiveLostResults } from "./Recovery.js"

export type { Handled } from "../Delivery.js"

/**
 * Decodes a queue message's JSON body with its schema; anything else is `InvalidInput`.
 *
 * @since 0.1.0
 * @category utils
 */
export const decodeMessage = <A, I>(schema: Schema.Schema<A, I>, body: string) =>
  Effect.try({ try: () => JSON.parse(body) as unknown, catch: () => new InvalidInput({ reason: "message body is not JSON" }) }).pipe(
    Effect.flatMap(Schema.decodeUnknown(schema)),
    Effect.mapError((e) => (e._tag === "InvalidInput" ? e : new InvalidInput({ reason: `bad message: ${e.message}` })))
  )

/**
 * One line describing an error, for the run table and the CLI.
 *
 * @since 0.1.0
 * @category utils
 */
export const errorText = (e: unknown): string => {
  if (typeof e === "object" && e !== null && "message" in e && typeof e.message === "string" && e.message.length > 0) {
    const tag = "_tag" in e && typeof e._tag === "string" ? e._tag : "Error"
    return `${tag}: ${e.message}`
  }
  return String(e)
}

/** Marks a chunk FAILED with a fatal error's reason; the run may settle by it. */
const failChunk = (runId: string, start: number, reason: string) =>
  Effect.flatMap(RunTable, (t) => t.failChunk(runId, start, reason)).pipe(
    Effect.map(({ run }): Handled => ({ _tag: "Failed", runId, reason, runSettled: isSettled(run) }))
  )

/**
 * Handles a `fit` message: claim the chunk, execute the fit stage (again, cheaply, when the
 * chunk is already COMPLETED: the journal answers and any step a crash cut off still runs),
 * fail the chunk on a fatal error. Retryable errors propagate: the message comes back.
 *
 * @since 0.1.0
 * @category engine
 */
export const handleFit = (pipeline: Pipeline, body: string, leaseMs: number) =>
  Effect.gen(function* () {
    const task = yield* decodeMessage(FitTask, body)
    const table = yield* RunTable
    const claim = yield* table.claimChunk(task.runId, task.start, leaseMs)
    if (claim._tag === "Busy") return { _tag: "Busy", retryInMs: Math.max(1000, claim.leaseUntil - (yield* Clock.currentTimeMillis)) } as Handled
    if (claim._tag === "Settled" && claim.status === "FAILED") return { _tag: "Done", runId: task.runId, runSettled: false } as Handled
    return yield* Stage.execute(pipeline.fit, { runId: task.runId, scope: Keys.chunkName(task.start) }, task).pipe(
      Effect.map((out): Handled => ({ _tag: "Done", runId: task.runId, runSettled: out.runSettled })),
      Effect.catchIf(
        (e) => !isRetryable(e),
        (e) => failChunk(task.runId, task.start, errorText(e))
      ),
      Effect.tapError((e) => Effect.ignore(table.noteChunkError(task.runId, task.start, errorText(e))))
    )
  })

/**
 * Handles a `slow` message: refit the chunk's deferred spectra and settle them.
 *
 * @since 0.1.0
 * @category engine
 */
export const handleSlow = (pipeline: Pipeline, body: string) =>
  Effect.gen(function* () {
    const task = yield* decodeMessage(SlowTask, body)
    return yield* Stage.execute(pipeline.slowFit, { runId: task.runId, scope: Keys.chunkName(task.start) }, task).pipe(
      Effect.map((out): Handled => ({ _tag: "Done", runId: task.runId, runSettled: out.runSettled }))
    )
  })

/**
 * What giving up on a message means for its run, the same in every engine: a `fit`
 * message's chunk fails with the reason (so the run settles and says why); a `slow`
 * message's run fails now, since its spectra would stay at `n_components = -1`; so does a
 * `stage` message's (a fan-out stage's chunk that never finishes blocks the run). Returns
 * the run as it stands afterwards (none for a body that is not a task, or an unknown run).
 *
 * @since 0.1.0
 * @category engine
 */
export const abandon = (queue: QueueName, body: string, reason: string) =>
  Effect.gen(function* () {
    const table = yield* RunTable
    if (queue === "fit") {
      const task = yield* Effect.option(decodeMessage(FitTask, body))
      if (Option.isNone(task)) return Option.none<RunRecord>()
      const failed = yield* table.failChunk(task.value.runId, task.value.start, reason).pipe(Effect.catchTag("RunNotFound", () => Effect.succeed(undefined)))
      return Option.fromNullable(failed?.run)
    }
    if (queue === "stage") {
      const task = yield* Effect.option(decodeMessage(StageTask, body))
      if (Option.isNone(task)) return Option.none<RunRecord>()
      const done = (yield* table.stageProgress(task.value.runId))[task.value.stage] ?? 0
      const run = yield* table.getRun(task.value.runId)
      if (Option.isNone(run) || done >= run.value.jobsTotal) return Option.none<RunRecord>()
      const moved = yield* table
        .transition(task.value.runId, ["RUNNING"], "FAILED", `stage ${task.value.stage}, chunk ${task.value.start} dead-lettered: ${reason}`)
        .pipe(Effect.catchTag("RunNotFound", () => Effect.succeed(undefined)))
      return Option.fromNullable(moved?.run)
    }
    const task = yield* Effect.option(decodeMessage(SlowTask, body))
    if (Option.isNone(task)) return Option.none<RunRecord>()
    const chunk = (yield* table.listChunks(task.value.runId)).find((c) => c.start === task.value.start)
    if (chunk === undefined || chunk.deferred === 0) return Option.none<RunRecord>()
    const moved = yield* table
      .transition(task.value.runId, ["RUNNING"], "FAILED", `slow fit of chunk ${task.value.start} dead-lettered: ${reason}`)
      .pipe(Effect.catchTag("RunNotFound", () => Effect.succeed(undefined)))
    return Option.fromNullable(moved?.run)
  })

/**
 * Takes a settled run on: the first fan-out stage with chunks left is started (its chunks
 * enqueued, once; the run stays RUNNING until they are all done: the barrier), else the
 * catalog publishes the last stage's rows and the run-level stages run. Idempotent. A run
 * with failed chunks ends FAILED with the first chunk's error and is not cataloged; that
 * decision is a conditional status change, not a journaled step, so a redrive (which
 * reopens the chunks) can still catalog the run later.
 *
 * @since 0.1.0
 * @category engine
 */
export const finishRun = (pipeline: Pipeline, runId: string) =>
  Effect.gen(function* () {
    const table = yield* RunTable
    const failed = (yield* table.listChunks(runId)).filter((c) => c.status === "FAILED")
    if (failed.length > 0) {
      const reason = `${failed.length} chunk(s) failed; first at spectrum ${failed[0].start}: ${failed[0].error ?? "unknown error"}`
      yield* table.transition(runId, ["RUNNING", "CATALOGING"], "FAILED", reason)
      return yield* getRun(runId)
    }
    // A chunk result lost since its fit (deleted, a disk restored from backup) is fitted again.
    yield* rederiveLostResults(runId)
    const run = yield* getRun(runId)
    if (run.status === "RUNNING") {
      const pending = yield* pendingStage(pipeline, run)
      if (Option.isSome(pending)) {
        yield* Stage.execute(startStage(pending.value), { runId, scope: "run" }, { runId })
        return run
      }
    }
    const resultsFrom = publishedStage(pipeline)
    const out = yield* Stage.execute(pipeline.catalog, { runId, scope: "run" }, resultsFrom === undefined ? { runId } : { runId, resultsFrom })
    if (out.status !== "COMPLETED") return yield* getRun(runId)
    for (const stage of pipeline.after) {
      const ok = yield* Stage.execute(stage, { runId, scope: "run" }, { runId }).pipe(
        Effect.as(true),
        Effect.catchIf(
          (e) => !isRetryable(e),
          (e) =>
            Effect.flatMap(RunTable, (t) => t.transition(runId, ["COMPLETED"], "FAILED", `stage ${stage.name}: ${errorText(e)}`)).pipe(Effect.as(false))
        )
      )
      if (!ok) break
    }
    return yield* getRun(runId)
  })

/**
 * Fails with `RunFailed` when a run ended FAILED.
 *
 * @since 0.1.0
 * @category utils
 */
export const ensureCompleted = (run: RunRecord): Effect.Effect<RunRecord, RunFailed> =>
  run.status === "FAILED" ? Effect.fail(new RunFailed({ runId: run.runId, reason: run.reason ?? "unknown" })) : Effect.succeed(run)
