/**
 * Starting a run: validate a manifest, hash the cube, derive the run id (`prepare`), then
 * run the split unless the run is already past it (`start`).
 *
 * @since 0.1.0
 */
import { Effect, Option, Schema } from "effect"
import { BlobStore } from "../BlobStore.js"
import { InvalidInput, isRetryable, RunNotFound, type StorageError } from "../Errors.js"
import { Fitter } from "../Fitter.js"
import { sha256Stream } from "../internal/hashBlob.js"
import * as Params from "../Params.js"
import { engineRetry } from "../Retry.js"
import { RunTable, type RunRecord } from "../RunTable.js"
import * as Stage from "../Stage.js"
import { chosenHdu } from "../stages/Split.js"
import { RunParams, type SplitInput } from "../stages/Tasks.js"
import { CORE_VERSION, type Pipeline } from "./Compose.js"

/**
 * Validates a manifest, resolves its parameters, hashes the cube and derives the run id.
 * Nothing is created: a bad manifest or cube leaves no trace. A caller that has just
 * hashed and checked the cube blob (a sweep, starting one run per point) passes its
 * SHA-256 as `known.cubeSha256` and it is not read again.
 *
 * @since 0.1.0
 * @category constructors
 */
export const prepare = (
  manifest: unknown,
  known: { readonly cubeSha256?: string } = {}
): Effect.Effect<SplitInput, InvalidInput | StorageError, BlobStore | Fitter> =>
  Effect.gen(function* () {
    const m = yield* Params.decodeManifest(manifest)
    const params = yield* Params.resolve(m.params)
    const fitter = yield* Fitter
    const store = yield* BlobStore
    const size = yield* store.size(m.cube_key)
    if (Option.isNone(size)) return yield* Effect.fail(new InvalidInput({ reason: `no cube at ${m.cube_key}` }))
    const cubeSha256 = known.cubeSha256 ?? (yield* sha256Stream(size.value, (offset, length) => store.getRange(m.cube_key, offset, length)).pipe(
      Effect.catchTag("BlobNotFound", (e) => Effect.fail(new InvalidInput({ reason: `no cube at ${e.key}` })))
    ))
    const codeVersion = `phs-${CORE_VERSION}+fit-${fitter.version}`
    // the HDU is checked now, and recorded only when it is not the one found without it
    const hdu = yield* chosenHdu(m.cube_key, m.hdu)
    const runId = Params.runId({ cubeSha256, survey: m.survey, params, chunkSize: m.chunk_size, codeVersion, refit: m.refit, hdu })
    return {
      runId,
      survey: m.survey,
      cubeKey: m.cube_key,
      params,
      chunkSize: m.chunk_size,
      codeVersion,
      ...(hdu === undefined ? {} : { hdu }),
      ...(m.refit === "none" ? {} : { refit: m.refit }),
      ...(m.cube_name === undefined ? {} : { cubeName: m.cube_name })
    }
  })

/**
 * A run's record, or `RunNotFound`.
 *
 * @since 0.1.0
 * @category utils
 */
export const getRun = (runId: string) =>
  Effect.flatMap(RunTable, (t) => t.getRun(runId)).pipe(
    Effect.flatMap(Option.match({ onNone: () => Effect.fail(new RunNotFound({ runId })), onSome: Effect.succeed }))
  )

const withCubeName = (input: SplitInput, cubeName: string | undefined): SplitInput => {
  const { cubeName: _, ...rest } = input
  return cubeName === undefined ? rest : { ...rest, cubeName }
}

/**
 * Runs split unless the run already exists past it. Idempotent.
 *
 * @since 0.1.0
 * @category combinators
 */
export const start = (pipeline: Pipeline, input: SplitInput) =>
  Effect.gen(function* () {
    const table = yield* RunTable
    const existing = yield* table.getRun(input.runId)
    if (Option.isSome(existing) && existing.value.status !== "SPLITTING") return existing.value
    // A split resumed under another file name keeps the name it was registered with (the journal has it).
    const splitInput = Option.isSome(existing) ? withCubeName(input, existing.value.cubeName) : input
    // A transient failure costs a retry of the split, whose finished steps the journal answers.
    yield* Stage.execute(pipeline.split, { runId: input.runId, scope: "run" }, splitInput).pipe(
      Effect.retry({ while: isRetryable, schedule: engineRetry })
    )
    return yield* getRun(input.runId)
  })

/**
 * The split input a run was started with, from its record.
 *
 * @since 0.1.0
 * @category utils
 */
export const splitInputOf = (run: RunRecord): SplitInput => ({
  runId: run.runId,
  survey: run.survey,
  cubeKey: run.cubeKey,
  params: Schema.decodeUnknownSync(RunParams)(run.params),
  chunkSize: run.chunkSize,
  codeVersion: run.codeVersion,
  ...(run.hdu === undefined ? {} : { hdu: run.hdu }),
  ...(run.refit === undefined || run.refit === "none" ? {} : { refit: run.refit }),
  ...(run.cubeName === undefined ? {} : { cubeName: run.cubeName })
})

/**
 * What starting a run can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type StartError = Effect.Effect.Error<ReturnType<typeof start>> | Effect.Effect.Error<ReturnType<typeof prepare>>
