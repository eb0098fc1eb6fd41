/**
 * What the pictures and the exports read about a run: its record, its rows of the result
 * table, the cube's header and single spectra, from the target's run table and blob store.
 */
import { BlobStore, Errors, Fits, Keys, type Pipeline, ResultParquet, RunTable, type ResultSchema } from "@phs/core"
import { Effect, type Layer, Option } from "effect"
import { findRun } from "../commands/shared.js"
import * as LocalTarget from "../target/LocalTarget.js"
import * as Target from "../target/Target.js"

export interface RunData {
  readonly run: RunTable.RunRecord
  readonly header: Fits.CubeHeader
  /** The run's rows of the result table, in file order. */
  readonly rows: ReadonlyArray<ResultSchema.DecompositionRow>
}

/** The services over an existing workdir (the local target, read-only). */
export const layer = (workdir: string): Layer.Layer<Target.Services | Pipeline.Services, Target.Error> => LocalTarget.layer(workdir, "read")

/** Where the target keeps blobs, for a message. */
const storeName = Effect.map(Target.Target, (t) => (t.name === "aws" ? "in the deployment's bucket" : "in the workdir"))

/** A blob read by ranges, for the FITS reader. */
const blobSource = (key: string) =>
  Effect.gen(function* () {
    const store = yield* BlobStore.BlobStore
    const size = yield* store.size(key)
    if (Option.isNone(size)) return Option.none<Fits.ByteSource<Errors.BlobNotFound | Errors.StorageError>>()
    const src: Fits.ByteSource<Errors.BlobNotFound | Errors.StorageError> = {
      size: size.value,
      read: (offset, length) => store.getRange(key, offset, length)
    }
    return Option.some(src)
  })

const partPattern = (runId: string) => new RegExp(`^${runId.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-\\d{4}\\.parquet$`)

/** The run's result files (the compacted parts `decompositions/survey=S/RUN-NNNN.parquet`). */
export const resultKeys = (run: RunTable.RunRecord) =>
  Effect.gen(function* () {
    const store = yield* BlobStore.BlobStore
    const prefix = Keys.surveyPartition(run.survey)
    const pattern = partPattern(run.runId)
    return (yield* store.list(Keys.runParts(run.survey, run.runId))).filter((k) => pattern.test(k.slice(prefix.length)))
  })

/** The cube's header, as the run read it. */
export const cubeHeader = (run: RunTable.RunRecord) =>
  Effect.gen(function* () {
    const src = yield* blobSource(run.cubeKey)
    if (Option.isNone(src)) {
      return yield* Effect.fail(new Errors.InvalidInput({ reason: `the cube of run ${run.runId} (${run.cubeKey}) is no longer ${yield* storeName}` }))
    }
    return yield* Fits.readHeader(src.value, Fits.hduOptions(run.hdu)).pipe(
      Effect.catchTag("FitsError", (e) => Effect.fail(new Errors.InvalidInput({ reason: `${run.cubeKey}: ${e.reason}` })))
    )
  })

/** A run (a unique prefix of its id will do) with its rows and its cube's header. */
export const load = (runIdPrefix: string) =>
  Effect.gen(function* () {
    const run = yield* findRun(runIdPrefix)
    const store = yield* BlobStore.BlobStore
    const keys = yield* resultKeys(run)
    if (keys.length === 0) {
      return yield* Effect.fail(
        new Errors.InvalidInput({
          reason: `run ${run.runId} has no results in the table (status ${run.status}${run.reason === null ? "" : `: ${run.reason}`})`
        })
      )
    }
    const rows: ResultSchema.DecompositionRow[] = []
    for (const key of keys) {
      const decoded = yield* ResultParquet.decodeRows(yield* store.get(key)).pipe(
        Effect.mapError((e) => new Errors.InvalidInput({ reason: `${key}: ${e.reason}` }))
      )
      for (const row of decoded) if (row.run_id === run.runId) rows.push(row)
    }
    const header = yield* cubeHeader(run)
    const data: RunData = { run, header, rows }
    return data
  })

/**
 * The spectrum of pixel (x, y), physical values with NaN for blank channels: from the cube,
 * or (when the cube is gone) from the chunk payload split wrote.
 */
export const spectrum = (run: RunTable.RunRecord, header: Fits.CubeHeader, x: number, y: number) =>
  Effect.gen(function* () {
    const p = y * run.nx + x
    const src = yield* blobSource(run.cubeKey)
    if (Option.isSome(src)) {
      return yield* Fits.readSpectra(src.value, header, p, 1).pipe(
        Effect.mapError((e) => (e._tag === "FitsError" ? new Errors.InvalidInput({ reason: `${run.cubeKey}: ${e.reason}` }) : e))
      )
    }
    const store = yield* BlobStore.BlobStore
    const start = Math.floor(p / run.chunkSize) * run.chunkSize
    const key = Keys.chunkPayload(run.runId, start)
    const bytes = yield* store.getRange(key, (p - start) * run.nChannels * 4, run.nChannels * 4).pipe(
      Effect.catchTag("BlobNotFound", () =>
        Effect.flatMap(storeName, (where) => Effect.fail(new Errors.InvalidInput({ reason: `neither the cube nor the chunk payload of run ${run.runId} is ${where}` })))
      )
    )
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    return Float32Array.from({ length: run.nChannels }, (_, c) => view.getFloat32(c * 4, true))
  })

/** Checks that (x, y) is a pixel of the run's cube. */
export const checkPixel = (run: RunTable.RunRecord, x: number, y: number): Effect.Effect<void, Errors.InvalidInput> =>
  Number.isInteger(x) && Number.isInteger(y) && x >= 0 && y >= 0 && x < run.nx && y < run.ny
    ? Effect.void
    : Effect.fail(
      new Errors.InvalidInput({
        reason: `pixel (${x}, ${y}) is outside the cube: x is 0..${run.nx - 1}, y is 0..${run.ny - 1}`
      })
    )

/** Keywords a cube header gives for a world axis, when they are all there. */
export interface LinearAxis {
  readonly ctype: string
  readonly crval: number
  readonly crpix: number
  readonly cdelt: number
  readonly cunit: string | undefined
}

/** World coordinates of axis 1, 2 or 3 as `crval + (pixel + 1 − crpix)·cdelt` (pixel from 0). */
export const linearAxis = (header: Pick<Fits.CubeHeader, "cards">, axis: 1 | 2 | 3): LinearAxis | undefined => {
  const num = (k: string) => (typeof header.cards[k] === "number" ? (header.cards[k] as number) : undefined)
  const str = (k: string) => (typeof header.cards[k] === "string" ? (header.cards[k] as string).trim() : undefined)
  const ctype = str(`CTYPE${axis}`)
  const crval = num(`CRVAL${axis}`)
  const crpix = num(`CRPIX${axis}`)
  const cdelt = num(`CDELT${axis}`)
  if (ctype === undefined || crval === undefined || crpix === undefined || cdelt === undefined || cdelt === 0) return undefined
  return { ctype, crval, crpix, cdelt, cunit: str(`CUNIT${axis}`) }
}

/** The world coordinate of a (0-based) pixel on a linear axis. */
export const world = (a: LinearAxis, pixel: number): number => a.crval + (pixel + 1 - a.crpix) * a.cdelt
