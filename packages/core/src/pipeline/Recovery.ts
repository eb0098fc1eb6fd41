/**
 * Putting a damaged or failed run back on its feet, the same for every runtime:
 * - `reopen`: a run's dead letters go back on their queues and its FAILED chunks back to
 *   PENDING (a chunk whose message was acknowledged gets a new one), so `phs resume` and
 *   `phs redrive` can finish a run that failed on a full disk or a lost blob.
 * - `rederiveLostResults`: a completed chunk whose result file is gone is fitted again
 *   from its payload (itself re-split from the cube when gone), before the catalog needs it.
 *
 * @since 0.1.0
 */
import { Effect, Option, Schema } from "effect"
import { BlobStore } from "../BlobStore.js"
import { Fitter } from "../Fitter.js"
import * as Keys from "../Keys.js"
import { fitParams } from "../Params.js"
import { RunTable, type ChunkRecord, type RunRecord } from "../RunTable.js"
import { encodeChunk, readPayload } from "../stages/Fit.js"
import { FitTask, RunParams } from "../stages/Tasks.js"
import { WorkQueue } from "../WorkQueue.js"
import { cubeWorld } from "../wcs/WorldColumns.js"
import { getRun } from "./Prepare.js"

const RunOf = Schema.parseJson(Schema.Struct({ runId: Schema.String }))

/**
 * Whether a queue message belongs to a run (its JSON body's `runId`).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isOfRun =
  (runId: string) =>
  (body: string): boolean =>
    Option.exists(Schema.decodeUnknownOption(RunOf)(body), (m) => m.runId === runId)

/**
 * The `fit` message of a run's chunk, as split sent it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fitTaskOf = (run: RunRecord, chunk: Pick<ChunkRecord, "start" | "count">): FitTask => ({
  runId: run.runId,
  survey: run.survey,
  start: chunk.start,
  count: chunk.count,
  nx: run.nx,
  nChannels: run.nChannels,
  params: Schema.decodeUnknownSync(RunParams)(run.params),
  payloadKey: Keys.chunkPayload(run.runId, chunk.start),
  outputKey: Keys.chunkResult(run.runId, chunk.start)
})

/**
 * What `reopen` did.
 *
 * @since 0.1.0
 * @category models
 */
export interface Reopened {
  /** Dead letters of the run put back on their queues. */
  readonly redriven: number
  /** FAILED chunks put back to PENDING. */
  readonly reopenedChunks: number
  /** Of those, the chunks that had no dead letter (acknowledged on failure) and got a new message. */
  readonly resent: number
}

/**
 * Reopens a run that is not COMPLETED: its dead letters back on their queues, its FAILED
 * chunks to PENDING (`RunTable.reopenFailed`; a FAILED run is RUNNING again), a new `fit`
 * message for each reopened chunk that has no dead letter, and a run failed by a slow (or a
 * fan-out stage's) dead
 * letter back to RUNNING. Does nothing to a run with nothing failed. Safe to repeat: a
 * duplicate message finds its chunk settled and changes nothing.
 *
 * @since 0.1.0
 * @category engine
 */
export const reopen = (runId: string) =>
  Effect.gen(function* () {
    const q = yield* WorkQueue
    const table = yield* RunTable
    const run = yield* getRun(runId)
    const none: Reopened = { redriven: 0, reopenedChunks: 0, resent: 0 }
    if (run.status === "COMPLETED" || run.status === "SPLITTING") return none
    const mine = isOfRun(runId)
    const failed = (yield* table.listChunks(runId)).filter((c) => c.status === "FAILED")
    const deadFits = (yield* q.deadLetters("fit")).filter((d) => mine(d.body))
    const deadSlows = (yield* q.deadLetters("slow")).filter((d) => mine(d.body))
    const deadStages = (yield* q.deadLetters("stage")).filter((d) => mine(d.body))
    if (failed.length === 0 && deadFits.length === 0 && deadSlows.length === 0 && deadStages.length === 0) return none
    const inDeadLetters = new Set(
      deadFits.flatMap((d) => Option.toArray(Schema.decodeUnknownOption(Schema.parseJson(FitTask))(d.body))).map((t) => t.start)
    )
    const redriven =
      (deadFits.length > 0 ? yield* q.redrive("fit", mine) : 0) +
      (deadSlows.length > 0 ? yield* q.redrive("slow", mine) : 0) +
      (deadStages.length > 0 ? yield* q.redrive("stage", mine) : 0)
    const { reopened } = yield* table.reopenFailed(runId)
    const orphans = failed.filter((c) => !inDeadLetters.has(c.start))
    const encode = Schema.encodeSync(FitTask)
    if (orphans.length > 0) yield* q.send("fit", orphans.map((c) => JSON.stringify(encode(fitTaskOf(run, c)))))
    // A slow or fan-out stage dead letter failed the run without failing a chunk: its
    // redrive makes the run live again.
    if (deadSlows.length > 0 || deadStages.length > 0) yield* table.transition(runId, ["FAILED"], "RUNNING")
    return { redriven, reopenedChunks: reopened, resent: orphans.length } satisfies Reopened
  })

/**
 * Fits a completed chunk again whose result file is gone, writing the same file: every
 * spectrum without a budget (a deferred one gets what the slow fit gave it), from the
 * payload (re-split from the cube when that is gone too). Returns the chunks refitted.
 *
 * @since 0.1.0
 * @category engine
 */
export const rederiveLostResults = (runId: string) =>
  Effect.gen(function* () {
    const table = yield* RunTable
    const store = yield* BlobStore
    const fitter = yield* Fitter
    const run = yield* getRun(runId)
    const refitted: number[] = []
    for (const chunk of yield* table.listChunks(runId)) {
      if (chunk.status !== "COMPLETED" || chunk.outputKey === null) continue
      if (Option.isSome(yield* store.size(chunk.outputKey))) continue
      const task = { ...fitTaskOf(run, chunk), outputKey: chunk.outputKey }
      const spectra = yield* readPayload(task)
      const results = yield* fitter.decomposeBatch(spectra, task.nChannels, fitParams(task.params), { timeoutMs: 0 })
      yield* store.put(task.outputKey, encodeChunk(task, results, yield* cubeWorld(runId)))
      refitted.push(chunk.start)
    }
    return refitted
  })
