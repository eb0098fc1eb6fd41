/**
 * Running a cube from the local file system: check its header, put it in the workdir's
 * blob store (once per content), start the run and drive it to its end. The `phs pipeline`
 * command and programs that compose their own pipeline (see examples/) both use this.
 *
 * @since 0.1.0
 */
import { BlobStore, CubeLimits, Errors, Fits, type Fitter, Keys, Params, Pipeline, type RunTable, type Tasks } from "@phs/core"
import { Effect, Option } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { sha256Blob } from "./CubeCheck.js"
import * as DriverLock from "./DriverLock.js"

/**
 * An open file read by ranges, as the FITS reader wants it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fileSource = (fd: number): Fits.ByteSource<never> => {
  const size = fs.fstatSync(fd).size
  return {
    size,
    read: (offset, length) =>
      Effect.sync(() => {
        const buf = Buffer.alloc(Math.max(0, Math.min(length, size - offset)))
        fs.readSync(fd, buf, 0, buf.length, offset)
        return new Uint8Array(buf.buffer, buf.byteOffset, buf.length)
      })
  }
}

/**
 * Reads and validates a cube's header straight from a file, and checks it against what phs
 * can decompose (`CubeLimits`); a bad cube is `InvalidInput`.
 *
 * @since 0.1.0
 * @category validation
 */
export const checkCube = (file: string, options: Fits.HeaderOptions = {}): Effect.Effect<Fits.CubeHeader, Errors.InvalidInput> =>
  Effect.acquireUseRelease(
    Effect.try({
      try: () => fs.openSync(file, "r"),
      catch: (e) => new Errors.InvalidInput({ reason: `cannot open ${file}: ${(e as Error).message}` })
    }),
    (fd) =>
      Fits.readHeader(fileSource(fd), options).pipe(
        Effect.filterOrFail(
          (h) => CubeLimits.refusal(h) === undefined,
          (h) => new Fits.FitsError({ reason: CubeLimits.refusal(h) ?? "" })
        ),
        Effect.mapError((e) => new Errors.InvalidInput({ reason: `${path.basename(file)}: ${e.reason}` }))
      ),
    (fd) => Effect.sync(() => fs.closeSync(fd))
  )

/** Bytes read at a time when hashing a file. */
const HASH_FILE_PIECE = 1024 * 1024

/**
 * SHA-256 (hex) of a file, streamed: what names a cube's blob (`Keys.cube`).
 *
 * @since 0.1.0
 * @category utils
 */
export const sha256File = (file: string): Effect.Effect<string, Errors.InvalidInput> =>
  Effect.tryPromise({
    try: async () => {
      const h = crypto.createHash("sha256")
      const handle = await fs.promises.open(file, "r")
      try {
        // One buffer for the whole file: a stream's new buffer per 64 KiB piece is a cube's
        // worth of garbage, and the full GCs it forces (docs/results.md, issue 15).
        const buffer = Buffer.allocUnsafe(HASH_FILE_PIECE)
        for (;;) {
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, null)
          if (bytesRead === 0) break
          h.update(buffer.subarray(0, bytesRead))
        }
      } finally {
        await handle.close()
      }
      return h.digest("hex")
    },
    catch: (e) => new Errors.InvalidInput({ reason: `cannot read ${file}: ${e instanceof Error ? e.message : String(e)}` })
  })

/**
 * Puts a cube file in the blob store under `cubes/{survey}-{sha}.fits` (once per content)
 * and returns its key. The store links the file where it can (no second copy). A copy
 * already there is used only when its size and hash are the file's; a damaged one is
 * replaced from the file. The new copy is checked the same way.
 *
 * @since 0.1.0
 * @category constructors
 */
export const importCube = (
  file: string,
  survey: string
): Effect.Effect<string, Errors.InvalidInput | Errors.StorageError, BlobStore.BlobStore> => Effect.map(importCubeHashed(file, survey), (c) => c.key)

/**
 * {@link importCube}, returning the copy's SHA-256 as well (checked: the blob has it), for
 * a caller that starts several runs of it (`Submission.cubeSha256`).
 *
 * @since 0.3.0
 * @category constructors
 */
export const importCubeHashed = (
  file: string,
  survey: string
): Effect.Effect<{ readonly key: string; readonly sha256: string }, Errors.InvalidInput | Errors.StorageError, BlobStore.BlobStore> =>
  Effect.gen(function* () {
    const store = yield* BlobStore.BlobStore
    const sha = yield* sha256File(file)
    const fileSize = yield* Effect.try({
      try: () => fs.statSync(file).size,
      catch: (e) => new Errors.InvalidInput({ reason: `cannot read ${file}: ${(e as Error).message}` })
    })
    const key = Keys.cube(survey, sha)
    const imported = (yield* store.size(key)).pipe(Option.filter((n) => n === fileSize))
    if (Option.isSome(imported) && (yield* sha256Blob(key, imported.value)) === sha) return { key, sha256: sha }
    yield* store.putFile(key, file)
    const size = yield* store.size(key)
    if (Option.isNone(size) || size.value !== fileSize || (yield* sha256Blob(key, size.value)) !== sha) {
      return yield* new Errors.InvalidInput({ reason: `${path.basename(file)} changed while phs imported it; run the command again once it is written` })
    }
    return { key, sha256: sha }
  })

/**
 * @since 0.1.0
 * @category models
 */
export interface Submission {
  readonly cube: string
  readonly survey: string
  readonly params?: Readonly<Record<string, number>>
  readonly chunkSize?: number
  /** `--refit` mode (default `none`); recorded in the run's manifest. */
  readonly refit?: Params.RefitMode
  /** `--hdu`: the HDU holding the cube (default: the first 3-D image); recorded in the run's manifest. */
  readonly hdu?: number
  /** The imported cube's SHA-256 when the caller has it ({@link importCubeHashed}): not hashed again. */
  readonly cubeSha256?: string
  /** The cube's file name for the run record ({@link cubeFileName}; `submit` takes it from `cube`). */
  readonly cubeName?: string
}

/**
 * The name a run records for the cube file at `file`: its basename, control characters as
 * `?` and cut to 255 characters (`Params.CubeName`), so that it prints on one line.
 *
 * @since 0.3.0
 * @category utils
 */
export const cubeFileName = (file: string): string => {
  // eslint-disable-next-line no-control-regex
  const name = path.basename(file).replace(/[\u0000-\u001f\u007f]/g, "?").slice(0, 255)
  return name === "" ? "cube" : name
}

/**
 * Checks, imports and starts a run (split included); returns its run id. Starting the same
 * cube, survey and parameters again returns the same run.
 *
 * @since 0.1.0
 * @category constructors
 */
export const submit = (
  pipeline: Pipeline.Pipeline,
  s: Submission
): Effect.Effect<string, Pipeline.StartError | Errors.InvalidInput | Errors.StorageError, Pipeline.Services> =>
  Effect.gen(function* () {
    yield* checkCube(s.cube, Fits.hduOptions(s.hdu))
    // The import has hashed the cube (and checked the copy against it): the run id needs no third pass.
    const imported = yield* importCubeHashed(s.cube, s.survey)
    return yield* submitImported(pipeline, { ...s, cube: imported.key, cubeSha256: imported.sha256, cubeName: s.cubeName ?? cubeFileName(s.cube) })
  })

/**
 * The manifest and split input (run id included) of a submission of a cube already in the
 * blob store; nothing is created.
 *
 * @since 0.3.0
 * @category constructors
 */
export const prepareImported = (
  s: Submission
): Effect.Effect<{ readonly manifest: Record<string, unknown>; readonly input: Tasks.SplitInput }, Errors.InvalidInput | Errors.StorageError, BlobStore.BlobStore | Fitter.Fitter> =>
  Effect.gen(function* () {
    const manifest = {
      cube_key: s.cube,
      survey: s.survey,
      params: s.params ?? {},
      ...(s.chunkSize === undefined ? {} : { chunk_size: s.chunkSize }),
      ...(s.refit === undefined || s.refit === "none" ? {} : { refit: s.refit }),
      ...(s.hdu === undefined ? {} : { hdu: s.hdu }),
      ...(s.cubeName === undefined ? {} : { cube_name: s.cubeName })
    }
    const input = yield* Pipeline.prepare(manifest, s.cubeSha256 === undefined ? {} : { cubeSha256: s.cubeSha256 })
    return { manifest, input }
  })

/**
 * Starts a run of a cube already in the blob store (`cube` is its key, from
 * {@link importCube}): what a sweep does for each of its points, importing the cube once.
 *
 * @since 0.1.0
 * @category constructors
 */
export const submitImported = (
  pipeline: Pipeline.Pipeline,
  s: Submission
): Effect.Effect<string, Pipeline.StartError | Errors.InvalidInput | Errors.StorageError, Pipeline.Services> =>
  Effect.gen(function* () {
    const { manifest, input } = yield* prepareImported(s)
    const store = yield* BlobStore.BlobStore
    yield* store.put(Keys.manifest(input.runId), new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`))
    yield* Pipeline.start(pipeline, input)
    return input.runId
  })

/**
 * The `--refit` mode a run was submitted with, from its manifest (`none` when it has none:
 * runs from before `--refit`). Only for a run whose record does not say ({@link pipelineOf}).
 *
 * @since 0.2.0
 * @category utils
 */
export const refitOf = (runId: string): Effect.Effect<Params.RefitMode, Errors.InvalidInput | Errors.StorageError, BlobStore.BlobStore> =>
  Effect.gen(function* () {
    const store = yield* BlobStore.BlobStore
    const bytes = yield* store.get(Keys.manifest(runId)).pipe(Effect.catchTag("BlobNotFound", () => Effect.succeed(undefined)))
    if (bytes === undefined) return "none" as const
    const json = yield* Effect.try({
      try: () => JSON.parse(new TextDecoder().decode(bytes)) as unknown,
      catch: () => new Errors.InvalidInput({ reason: `bad manifest of run ${runId}: not JSON` })
    })
    return (yield* Params.decodeManifest(json)).refit
  })

/**
 * The pipeline a run was submitted with, composed as the aws handlers compose it: from the
 * refit mode its record carries (`Pipeline.pipelineOfRun`). A record without one is a plain
 * run or a run recorded before the record had the field; only then is the manifest read.
 *
 * @since 0.2.0
 * @category utils
 */
export const pipelineOf = (
  run: Pick<RunTable.RunRecord, "runId" | "refit">
): Effect.Effect<Pipeline.Pipeline, Errors.InvalidInput | Errors.StorageError, BlobStore.BlobStore> =>
  run.refit !== undefined ? Effect.succeed(Pipeline.pipelineOfRun(run)) : Effect.map(refitOf(run.runId), Pipeline.pipelineFor)

/**
 * Submits a cube and drives its run to the end on this machine, as the workdir's one
 * driver (`DriverLock.layer` provides the lease).
 *
 * @since 0.1.0
 * @category combinators
 */
export const run = (
  pipeline: Pipeline.Pipeline,
  s: Submission,
  options: Pipeline.DriveOptions = {}
): Effect.Effect<
  RunTable.RunRecord,
  Pipeline.StartError | Pipeline.DriveError | Errors.InvalidInput | Errors.StorageError | DriverLock.DriverLost,
  Pipeline.Services | DriverLock.DriverLock
> =>
  Effect.flatMap(DriverLock.DriverLock, (lock) =>
    lock.guard(
      Effect.flatMap(submit(pipeline, s), (runId) => Effect.zipRight(lock.driving(runId), Pipeline.drive(pipeline, runId, options)))
    )
  )


