/**
 * The aws target: a deployment's run table (DynamoDB), bucket (S3) and queues (SQS), found
 * as `Deployment` says. Its Lambdas do the work; this process only starts runs and follows
 * them:
 *
 * - submit: the cube goes to `cubes/{survey}-{sha16}.fits` through the bucket's
 *   `BlobStore.putFile` (skipped when an object of the same size is there), the run id is
 *   computed as the splitter will compute it (`Submit.predict`), and the manifest (with its
 *   `--refit` mode) goes to `manifests/{runId}.json`: its upload is what starts the run
 *   (EventBridge → splitter). A run that exists past its split is not started again; when
 *   the bucket's object at its cube key is no longer the one it was split from (its ETag),
 *   the file is put back there.
 * - drive: the run table is watched until the run ends (`Watch`).
 * - unstick: a run stuck in SPLITTING gets its manifest put again (rebuilt from the run
 *   record when it is gone): the upload re-triggers the splitter, which resumes from its
 *   journal; a settled run never cataloged (its catalog message died) is sent to the
 *   catalog queue again.
 * - checkCube: the cube's `HeadObject` against the ETag and size the split recorded
 *   (`CubeCheck.verify`), before a resume or a redrive.
 */
import { BlobStore, Errors, Keys, RunTable, WorkQueue } from "@phs/core"
import { CubeCheck, LocalRun } from "@phs/runtime-local"
import { BlobStoreS3, CatalogQueue, RunTableDynamo, SplitterHandler, WorkQueueSqs } from "@phs/runtime-lambda"
import { Effect, Layer, Option } from "effect"
import * as fs from "node:fs"
import * as AthenaSql from "../aws/AthenaSql.js"
import * as Deployment from "../aws/Deployment.js"
import { predict } from "../aws/Submit.js"
import * as Watch from "../aws/Watch.js"
import { rowStreamOf } from "../query/SqlEngine.js"
import { manifestBytes, manifestKey, manifestOf, type Options, ResultQuery, type Services, Target } from "./Target.js"

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`

/** A service the deployment's settings do not name: every call says what to set. */
const unnamed = (reason: string) => (operation: string) => Effect.fail(new Errors.StorageError({ operation, key: "", reason, retryable: false }))

const missingBucket: (reason: string) => BlobStore.BlobStore = (reason) => {
  const fail = unnamed(reason)
  return { get: () => fail("s3 get"), getRange: () => fail("s3 get"), size: () => fail("s3 head"), stat: () => fail("s3 head"), put: () => fail("s3 put"), putFile: () => fail("s3 put"), putStream: () => fail("s3 put"), list: () => fail("s3 list"), remove: () => fail("s3 delete") }
}

const missingQueues: (reason: string) => WorkQueue.WorkQueue = (reason) => {
  const fail = unnamed(reason)
  return {
    send: () => fail("sqs send"),
    receive: () => fail("sqs receive"),
    ack: () => fail("sqs delete"),
    release: () => fail("sqs change visibility"),
    deadLetter: () => fail("sqs send"),
    depth: () => fail("sqs attributes"),
    deadLetters: () => fail("sqs receive"),
    redrive: () => fail("sqs receive")
  }
}

/** The aws target of the options' deployment. */
export const layer = (o: Options): Layer.Layer<Services, Errors.InvalidInput | Errors.StorageError> =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const d = yield* Deployment.resolve(o)
      const tableName = yield* Deployment.need(d, "runsTable")
      const bucketOrError = yield* Effect.either(Deployment.need(d, "bucket"))
      const flags = Deployment.flags(o)
      const queuesUnknown =
        d.queues === undefined ? Option.some(`${d.queuesMissing.join(", ")} not set (or pass --aws-config FILE)`) : Option.none<string>()
      const runTable = RunTableDynamo.layer({ aws: Deployment.awsFor(d, "dynamodb"), tableName })
      const blobs =
        bucketOrError._tag === "Right"
          ? BlobStoreS3.layer({ aws: Deployment.awsFor(d, "s3"), bucket: bucketOrError.right })
          : Layer.succeed(BlobStore.BlobStore, missingBucket(bucketOrError.left.reason))
      const queues =
        d.queues === undefined
          ? Layer.succeed(WorkQueue.WorkQueue, missingQueues(`the work queues are not known: ${Option.getOrElse(queuesUnknown, () => "")}`))
          : WorkQueueSqs.layer({ aws: Deployment.awsFor(d, "sqs"), queues: d.queues })
      const services = Layer.mergeAll(runTable, blobs, queues)
      /** What the watch of a just-submitted run expects to see. */
      const expecting = new Map<string, Watch.Expecting>()

      const target = Layer.effect(
        Target,
        Effect.gen(function* () {
          const context = yield* Effect.context<RunTable.RunTable | BlobStore.BlobStore>()
          const inDeployment = <A, E>(effect: Effect.Effect<A, E, RunTable.RunTable | BlobStore.BlobStore>) =>
            Effect.provide(effect, context).pipe(Deployment.explainSetup)
          const bucket = bucketOrError._tag === "Right" ? bucketOrError.right : undefined
          return Target.of({
            name: "aws",
            flags,
            where: `in the deployment ${o.stack} (see phs runs${flags})`,
            resultsAt: (survey) => `${bucket === undefined ? "the deployment's bucket, " : `s3://${bucket}/`}${Keys.surveyPartition(survey)}`,
            queuesUnknown,
            submit: (s) =>
              inDeployment(
                Effect.gen(function* () {
                  const bucket = yield* Deployment.need(d, "bucket")
                  const note = (text: string) => (s.quiet ? undefined : void process.stderr.write(`phs: ${text}\n`))
                  const table = yield* RunTable.RunTable
                  const store = yield* BlobStore.BlobStore
                  const cubeKey = Keys.cube(s.survey, yield* LocalRun.sha256File(s.cube))
                  // the manifest's refit mode goes into the run id and the run record, from which the
                  // deployment's handlers compose the run's pipeline (its refit stages, on the stage queue)
                  const manifest = manifestOf({ cubeKey, survey: s.survey, params: s.params, chunkSize: s.chunkSize, hdu: s.hdu, refit: s.refit, cubeName: LocalRun.cubeFileName(s.cube) })
                  const input = yield* predict(manifest, s.cube)
                  const key = manifestKey(input.runId)
                  const before = yield* table.getRun(input.runId)
                  if (Option.isSome(before) && before.value.status !== "SPLITTING") {
                    // The run's cube replaced in the bucket since its split: this file is its cube
                    // (the key names its SHA-256), so putting it back lets phs resume carry on.
                    const recorded = before.value.cubeEtag
                    const now = yield* store.stat(cubeKey)
                    if (recorded !== undefined && Option.getOrUndefined(now)?.etag !== recorded) {
                      yield* store.putFile(cubeKey, s.cube)
                      note(`cube put back at s3://${bucket}/${cubeKey}: the bucket held another object there`)
                    }
                    return { runId: input.runId, before }
                  }
                  const size = fs.statSync(s.cube).size
                  if (Option.getOrUndefined(yield* store.size(cubeKey)) === size) note(`cube already at s3://${bucket}/${cubeKey}`)
                  else {
                    yield* store.putFile(cubeKey, s.cube)
                    note(`cube uploaded to s3://${bucket}/${cubeKey} (${mb(size)})`)
                  }
                  // The splitter's record of a refusal of this manifest, as it stands before the upload.
                  const refusedBefore = yield* table.getRun(SplitterHandler.invalidRunId(key))
                  yield* store.put(key, manifestBytes(manifest))
                  note(`manifest s3://${bucket}/${key} put: run ${input.runId}`)
                  expecting.set(input.runId, { manifestKey: key, survey: s.survey, cubeKey, chunkSize: input.chunkSize, params: input.params, refit: s.refit, refusedBefore })
                  return { runId: input.runId, before }
                })
              ),
            checkCube: (run) => inDeployment(CubeCheck.verify(run, "identity")),
            drive: (runId, options) =>
              inDeployment(Watch.watch(runId, { tty: process.stderr.isTTY === true, quiet: options.quiet, flags, expecting: expecting.get(runId), ...(options.display === undefined ? {} : { display: options.display }) })),
            unstick: (run) =>
              inDeployment(
                Effect.gen(function* () {
                  const table = yield* RunTable.RunTable
                  const now = Option.getOrElse(yield* table.getRun(run.runId), () => run)
                  if (now.status === "SPLITTING") {
                    const bucket = yield* Deployment.need(d, "bucket")
                    const store = yield* BlobStore.BlobStore
                    const key = manifestKey(now.runId)
                    const bytes = yield* store
                      .get(key)
                      .pipe(Effect.catchTag("BlobNotFound", () => Effect.succeed(manifestBytes(manifestOf({ ...now, params: now.params })))))
                    // Putting it again is an "Object Created" event: the splitter resumes the split.
                    yield* store.put(key, bytes)
                    return [`run ${now.runId} was still splitting: manifest s3://${bucket}/${key} put again for the splitter`]
                  }
                  if ((now.status === "RUNNING" && RunTable.isSettled(now)) || now.status === "CATALOGING") {
                    if (d.catalogQueueUrl === undefined)
                      return [`run ${now.runId} waits for its catalog, and the catalog queue is not known (PHS_CATALOG_QUEUE_URL, or --aws-config FILE)`]
                    yield* Effect.flatMap(CatalogQueue.CatalogQueue, (c) => c.notify(now.runId)).pipe(
                      Effect.provide(CatalogQueue.layer({ aws: Deployment.awsFor(d, "sqs"), url: d.catalogQueueUrl }))
                    )
                    return [`run ${now.runId} sent to the catalog queue again`]
                  }
                  return []
                })
              ),
            drivenBy: (run) =>
              Effect.succeed(run.status === "COMPLETED" || run.status === "FAILED" ? Option.none() : Option.some("the deployment's Lambdas")),
            summaryExtra: () => ({})
          })
        })
      ).pipe(Layer.provide(services))
      return Layer.merge(target, services)
    }).pipe(Deployment.explainSetup)
  )

/** `phs query` on the aws target: Athena in the deployment's workgroup (aws/AthenaSql.ts); its result pages come whole. */
export const resultQuery = (o: Options): Layer.Layer<ResultQuery, Errors.InvalidInput> =>
  Layer.scoped(
    ResultQuery,
    Effect.gen(function* () {
      const engine = yield* AthenaSql.scoped(yield* Deployment.resolve(o))
      return ResultQuery.of({
        name: "aws",
        notes: [],
        stream: (sql) => engine.run(sql).pipe(Effect.map(rowStreamOf), Deployment.explainSetup)
      })
    })
  )
