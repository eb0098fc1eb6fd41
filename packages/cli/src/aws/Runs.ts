/**
 * `phs runs | status | resume --target aws`: the deployment's run table (DynamoDB, through
 * the runtime's `RunTableDynamo`), its dead-letter queues (`WorkQueueSqs`) and, for resume,
 * its bucket and catalog queue.
 *
 * Resume re-drives a run; it never does the work here (the Lambdas do):
 * - the run's dead-lettered fit and slow messages go back on their queues, and the chunks
 *   that failed with them are reopened (the run is live again);
 * - a run stuck in SPLITTING gets its manifest put again (`manifests/{runId}.json`, rebuilt
 *   from the run record when it is not there): the upload re-triggers the splitter, which
 *   resumes the split from its journal;
 * - a run whose chunks are all settled but which was never cataloged (its catalog message
 *   died) is sent to the catalog queue again;
 * then the run is watched like `phs pipeline --target aws` does.
 */
import { BlobStore, type Errors, Keys, RunTable, WorkQueue } from "@phs/core"
import { BlobStoreS3, CatalogQueue, WorkQueueSqs } from "@phs/runtime-lambda"
import { Effect, Layer, Option } from "effect"
import { findRun } from "../commands/shared.js"
import * as Deployment from "./Deployment.js"
import { type Finished, runTableLayer, type Timing, tryQuery } from "./Pipeline.js"
import { manifestBytes, manifestKey, manifestOf } from "./Submit.js"
import * as Watch from "./Watch.js"

const mine = (runId: string) => (body: string) => body.includes(`"runId":"${runId}"`)

/** Where a run id was looked for, for the error. */
const where = (t: Deployment.Target) => `in the deployment ${t.stack} (see phs runs${Deployment.flags(t)})`

/** The deployment with its run table. */
const withTable = <A, E>(t: Deployment.Target, f: (d: Deployment.Deployment) => Effect.Effect<A, E, RunTable.RunTable>) =>
  Effect.gen(function* () {
    const d = yield* Deployment.resolve(t)
    const tableName = yield* Deployment.need(d, "runsTable")
    return yield* f(d).pipe(Effect.provide(runTableLayer(d, tableName)), Deployment.explainSetup)
  })

/** The work queues of a deployment, when all four URLs are known. */
const workQueue = (d: Deployment.Deployment): Option.Option<Layer.Layer<WorkQueue.WorkQueue>> =>
  d.queues === undefined ? Option.none() : Option.some(WorkQueueSqs.layer({ aws: Deployment.awsFor(d, "sqs"), queues: d.queues }))

/** `phs runs --target aws`: every run of the deployment (or of one survey), newest first. */
export const list = (t: Deployment.Target, survey: Option.Option<string>) =>
  withTable(t, () => Effect.flatMap(RunTable.RunTable, (table) => table.listRuns(Option.isSome(survey) ? { survey: survey.value } : {})))

export interface Status {
  readonly run: RunTable.RunRecord
  readonly chunks: ReadonlyArray<RunTable.ChunkRecord>
  readonly deadLetters: ReadonlyArray<WorkQueue.DeadLetter>
  /** Why the dead letters were not read (the queues are not known), if they were not. */
  readonly deadLettersUnknown: Option.Option<string>
}

/** `phs status RUN --target aws`: the run, its chunks and its dead letters. */
export const status = (t: Deployment.Target, runId: string) =>
  withTable(t, (d) =>
    Effect.gen(function* () {
      const run = yield* findRun(runId, where(t))
      const table = yield* RunTable.RunTable
      const chunks = yield* table.listChunks(run.runId)
      const queues = workQueue(d)
      if (Option.isNone(queues))
        return { run, chunks, deadLetters: [], deadLettersUnknown: Option.some(`dead letters not read: ${d.queuesMissing.join(", ")} not set (or pass --aws-config FILE)`) } satisfies Status
      const dead = yield* Effect.flatMap(WorkQueue.WorkQueue, (q) => Effect.all([q.deadLetters("fit"), q.deadLetters("slow")])).pipe(Effect.provide(queues.value))
      return { run, chunks, deadLetters: [...dead[0], ...dead[1]].filter((x) => mine(run.runId)(x.body)), deadLettersUnknown: Option.none() } satisfies Status
    })
  )

/** What a resume did before watching. */
export interface Redriven {
  readonly redriven: number
  readonly reopenedChunks: number
  readonly manifestPut: Option.Option<string>
  readonly cataloging: boolean
  readonly notes: ReadonlyArray<string>
}

/** Re-drives a run (see the module's comment); nothing is done for a run that ended COMPLETED. */
export const redrive = (d: Deployment.Deployment, run: RunTable.RunRecord) =>
  Effect.gen(function* () {
    const table = yield* RunTable.RunTable
    const notes: string[] = []
    let redriven = 0
    let reopenedChunks = 0
    let manifestPut: Option.Option<string> = Option.none()
    let cataloging = false
    if (run.status === "COMPLETED") return { redriven, reopenedChunks, manifestPut, cataloging, notes } satisfies Redriven
    const queues = workQueue(d)
    if (Option.isSome(queues)) {
      redriven = yield* Effect.flatMap(WorkQueue.WorkQueue, (q) =>
        Effect.zipWith(q.redrive("fit", mine(run.runId)), q.redrive("slow", mine(run.runId)), (a, b) => a + b)
      ).pipe(Effect.provide(queues.value))
      // Chunks failed only because their message died can run again; the run is live again.
      if (redriven > 0) reopenedChunks = (yield* table.reopenFailed(run.runId)).reopened
      notes.push(
        redriven > 0 ? `${redriven} dead-lettered message(s) back on their queues, ${reopenedChunks} chunk(s) reopened` : `run ${run.runId}: no dead letters`
      )
    } else notes.push(`dead letters not re-driven: ${d.queuesMissing.join(", ")} not set (or pass --aws-config FILE)`)

    const now = Option.getOrElse(yield* table.getRun(run.runId), () => run)
    if (now.status === "SPLITTING") {
      const bucket = yield* Deployment.need(d, "bucket")
      const key = manifestKey(now.runId)
      const store = BlobStoreS3.layer({ aws: Deployment.awsFor(d, "s3"), bucket })
      yield* Effect.gen(function* () {
        const s = yield* BlobStore.BlobStore
        const bytes = yield* s.get(key).pipe(
          Effect.catchTag("BlobNotFound", () => Effect.succeed(manifestBytes(manifestOf(now.cubeKey, now.survey, now.params, now.chunkSize))))
        )
        // Putting it again is an "Object Created" event: the splitter resumes the split.
        yield* s.put(key, bytes)
      }).pipe(Effect.provide(store))
      manifestPut = Option.some(key)
      notes.push(`run ${now.runId} was still splitting: manifest s3://${bucket}/${key} put again for the splitter`)
    } else if ((now.status === "RUNNING" && RunTable.isSettled(now)) || now.status === "CATALOGING") {
      if (d.catalogQueueUrl === undefined) notes.push(`run ${now.runId} waits for its catalog, and the catalog queue is not known (PHS_CATALOG_QUEUE_URL, or --aws-config FILE)`)
      else {
        yield* Effect.flatMap(CatalogQueue.CatalogQueue, (c) => c.notify(now.runId)).pipe(
          Effect.provide(CatalogQueue.layer({ aws: Deployment.awsFor(d, "sqs"), url: d.catalogQueueUrl }))
        )
        cataloging = true
        notes.push(`run ${now.runId} sent to the catalog queue again`)
      }
    }
    return { redriven, reopenedChunks, manifestPut, cataloging, notes } satisfies Redriven
  })

/** `phs resume RUN --target aws`: re-drive, then watch to the end. */
export const resume = (
  t: Deployment.Target,
  runId: string,
  options: { readonly quiet: boolean } & Timing
): Effect.Effect<Finished, Errors.InvalidInput | Errors.StorageError | Errors.RunNotFound | Errors.RunFailed | Watch.RunStalled> =>
  Effect.gen(function* () {
    const started = Date.now()
    const flags = Deployment.flags(t)
    const outcome = yield* withTable(t, (d) =>
      Effect.gen(function* () {
        const found = yield* findRun(runId, where(t))
        const done = yield* redrive(d, found)
        if (!options.quiet) for (const n of done.notes) process.stderr.write(`phs: ${n}\n`)
        const { quiet, ...timing } = options
        const run = yield* Watch.watch(found.runId, { tty: process.stderr.isTTY === true, quiet, flags, ...timing })
        return { run, bucket: d.bucket }
      })
    )
    return {
      run: outcome.run,
      where: `${outcome.bucket === undefined ? "the deployment's bucket, " : `s3://${outcome.bucket}/`}${Keys.surveyPartition(outcome.run.survey)}`,
      seconds: (Date.now() - started) / 1000,
      query: tryQuery(outcome.run, flags)
    }
  })
