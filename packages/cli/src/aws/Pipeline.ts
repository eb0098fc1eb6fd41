/**
 * `phs pipeline CUBE.fits --target aws`: after the same local checks as the local target
 * (survey name, parameters, the cube's header), the cube goes to
 * `cubes/{survey}-{sha16}.fits` in the deployment's bucket (skipped when an object of the
 * same size is there), the run id is computed as the splitter will compute it, the manifest
 * goes to `manifests/{runId}.json` (its upload is what starts the run: EventBridge →
 * splitter), and the run table is watched until the run ends.
 *
 * A run that already exists past its split is not started again: it is followed.
 */
import { BlobStoreS3, RunTableDynamo, SplitterHandler } from "@phs/runtime-lambda"
import { type Errors, Keys, RunTable } from "@phs/core"
import { Effect, Option } from "effect"
import * as fs from "node:fs"
import { sha256File, uploadFile } from "./CubeUpload.js"
import * as Deployment from "./Deployment.js"
import { manifestBytes, manifestKey, manifestOf, predict } from "./Submit.js"
import * as Watch from "./Watch.js"

export interface Submission {
  readonly cube: string
  readonly survey: string
  readonly params: Readonly<Record<string, number>>
  readonly chunkSize: number
  /** No progress and no notes on stderr (--json). */
  readonly quiet: boolean
}

/** A run at its end, with where its results are and a query to try. */
export interface Finished {
  readonly run: RunTable.RunRecord
  readonly where: string
  readonly seconds: number
  readonly query: string
}

/** Overrides of the watch's timing (tests). */
export type Timing = Pick<Watch.WatchOptions, "pollMs" | "stallMs" | "fallbackAfterMs">

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`

/** The query `phs pipeline` suggests at the end: it names the survey, as a projected table needs. */
export const tryQuery = (run: RunTable.RunRecord, flags: string): string =>
  `phs query${flags} "SELECT n_components, count(*) FROM decompositions WHERE survey = '${run.survey}' AND run_id = '${run.runId}' GROUP BY 1 ORDER BY 1"`

/** The run table of a deployment, as a layer. */
export const runTableLayer = (d: Deployment.Deployment, tableName: string) =>
  RunTableDynamo.layer({ aws: Deployment.awsFor(d, "dynamodb"), tableName })

export const submitAndWatch = (
  s: Submission,
  target: Deployment.Target,
  timing: Timing = {}
): Effect.Effect<Finished, Errors.InvalidInput | Errors.StorageError | Errors.RunFailed | Watch.RunStalled> =>
  Effect.gen(function* () {
    const started = Date.now()
    const d = yield* Deployment.resolve(target)
    const bucket = yield* Deployment.need(d, "bucket")
    const runsTable = yield* Deployment.need(d, "runsTable")
    const flags = Deployment.flags(target)
    const note = (text: string) => (s.quiet ? undefined : void process.stderr.write(`phs: ${text}\n`))

    const sha = yield* sha256File(s.cube)
    const cubeKey = Keys.cube(s.survey, sha)
    const manifest = manifestOf(cubeKey, s.survey, s.params, s.chunkSize)
    const input = yield* predict(manifest, s.cube)
    const key = manifestKey(input.runId)

    const program = Effect.gen(function* () {
      const table = yield* RunTable.RunTable
      const existing = yield* table.getRun(input.runId)
      if (Option.isSome(existing) && existing.value.status !== "SPLITTING") {
        const status = existing.value.status
        note(
          `run ${input.runId} exists already (${status.toLowerCase()})${status === "FAILED" ? `: phs resume ${input.runId}${flags} re-drives it` : ": following it"}`
        )
        return yield* Watch.watch(input.runId, { tty: process.stderr.isTTY === true, quiet: s.quiet, flags, ...timing })
      }
      const client = yield* Effect.acquireRelease(
        Effect.sync(() => BlobStoreS3.makeClient(Deployment.awsFor(d, "s3"))),
        (c) => Effect.sync(() => c.destroy())
      )
      const size = fs.statSync(s.cube).size
      const uploaded = yield* uploadFile(client, bucket, cubeKey, s.cube)
      note(
        uploaded._tag === "Present"
          ? `cube already at s3://${bucket}/${cubeKey}`
          : `cube uploaded to s3://${bucket}/${cubeKey} (${mb(size)}${uploaded._tag === "Multipart" ? `, ${uploaded.parts} parts` : ""})`
      )
      // The splitter's record of a refusal of this manifest, as it stands before the upload.
      const refusedBefore = yield* table.getRun(SplitterHandler.invalidRunId(key))
      yield* BlobStoreS3.make(client, bucket).put(key, manifestBytes(manifest))
      note(`manifest s3://${bucket}/${key} put: run ${input.runId}`)
      return yield* Watch.watch(input.runId, {
        tty: process.stderr.isTTY === true,
        quiet: s.quiet,
        flags,
        ...timing,
        expecting: { manifestKey: key, survey: s.survey, cubeKey, chunkSize: input.chunkSize, params: input.params, refusedBefore }
      })
    })
    const run = yield* program.pipe(Effect.scoped, Effect.provide(runTableLayer(d, runsTable)), Deployment.explainSetup)
    return {
      run,
      where: `s3://${bucket}/${Keys.surveyPartition(run.survey)}`,
      seconds: (Date.now() - started) / 1000,
      query: tryQuery(run, flags)
    } satisfies Finished
  })
