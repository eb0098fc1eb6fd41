/**
 * split: read and validate the cube header, plan chunks of `chunkSize` spectra in (y, x)
 * row-major order, write each chunk's spectra as a payload blob, create the run and its
 * PENDING chunks, enqueue one message per chunk. Reads the cube a block of chunks at a
 * time, so memory stays bounded whatever the cube's size.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Option, Schema } from "effect"
import { BlobStore, rangeReader } from "../BlobStore.js"
import { BlobNotFound, InvalidInput, StorageError } from "../Errors.js"
import * as CubeLimits from "../CubeLimits.js"
import * as Fits from "../Fits.js"
import { releaseWhole } from "../internal/release.js"
import * as Keys from "../Keys.js"
import { pendingChunk, RunTable, type RunRecord } from "../RunTable.js"
import * as Stage from "../Stage.js"
import * as Step from "../Step.js"
import { WorkQueue } from "../WorkQueue.js"
import { FitTask, RunParams, SplitInput, SplitOutput } from "./Tasks.js"

/** Split reads Keys.SPLIT_CHUNKS_PER_BLOCK chunks at a time, fewer when they are large: a block stays under 64 MiB (or one chunk). */
const BLOCK_BYTES = 64 * 1024 * 1024

/** Payload puts of a block in flight at once (libuv's default pool has 4 threads for their fs calls). */
const PAYLOAD_PUTS = 4

const chunksPerBlock = (chunkSize: number, nChannels: number): number =>
  Math.max(1, Math.min(Keys.SPLIT_CHUNKS_PER_BLOCK, Math.floor(BLOCK_BYTES / (chunkSize * nChannels * CubeLimits.PAYLOAD_BYTES_PER_CHANNEL))))

/**
 * A blob read by ranges, as the FITS reader wants it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const blobSource = (
  key: string
): Effect.Effect<Fits.ByteSource<BlobNotFound | StorageError>, BlobNotFound | StorageError, BlobStore> =>
  Effect.gen(function* () {
    const store = yield* BlobStore
    const size = yield* store.size(key)
    if (Option.isNone(size)) return yield* Effect.fail(new BlobNotFound({ key }))
    return { size: size.value, read: (offset, length) => store.getRange(key, offset, length) }
  })

/**
 * Reads and validates a cube's header (of HDU `hdu`, default the first 3-D image); a bad
 * cube is `InvalidInput` saying what is wrong.
 *
 * @since 0.1.0
 * @category combinators
 */
export const readCubeHeader = (key: string, hdu?: number) =>
  Effect.gen(function* () {
    const src = yield* blobSource(key)
    const header = yield* Fits.readHeader(src, Fits.hduOptions(hdu))
    const refused = CubeLimits.refusal(header)
    if (refused !== undefined) return yield* Effect.fail(new InvalidInput({ reason: refused }))
    return header
  }).pipe(
    Effect.catchTag("FitsError", (e) => Effect.fail(new InvalidInput({ reason: e.reason }))),
    Effect.catchTag("BlobNotFound", (e) => Effect.fail(new InvalidInput({ reason: `no cube at ${e.key}` })))
  )

/**
 * The HDU a run records for `hdu` (a manifest's `hdu`, checked): none when it is the one
 * found without it, so that naming the default HDU changes neither the run id nor the journal.
 *
 * @since 0.3.0
 * @category combinators
 */
export const chosenHdu = (key: string, hdu: number | undefined): Effect.Effect<number | undefined, InvalidInput | StorageError, BlobStore> =>
  Effect.gen(function* () {
    if (hdu === undefined) return undefined
    yield* readCubeHeader(key, hdu).pipe(
      Effect.mapError((e) => (e._tag === "InvalidInput" && !e.reason.includes(`HDU ${hdu}`) ? new InvalidInput({ reason: `HDU ${hdu}: ${e.reason}` }) : e))
    )
    const found = yield* Effect.either(readCubeHeader(key))
    return found._tag === "Right" && found.right.hdu === hdu ? undefined : hdu
  })

/** A step input's `hdu` field: absent for the default HDU (older journals match). */
const hduField = (hdu: number | undefined) => (hdu === undefined ? {} : { hdu })

const Geometry = Schema.Struct({ nx: Schema.Int, ny: Schema.Int, nChannels: Schema.Int, description: Schema.String })

const readHeaderStep = Step.make({
  name: "read-header",
  input: Schema.Struct({ cubeKey: Schema.String, hdu: Schema.optional(Schema.Int) }),
  output: Geometry,
  run: ({ cubeKey, hdu }) =>
    readCubeHeader(cubeKey, hdu).pipe(
      Effect.map((h) => ({ nx: h.nx, ny: h.ny, nChannels: h.nchan, description: Fits.describe(h) }))
    )
})

const registerStep = Step.make({
  name: "register-run",
  input: Schema.Struct({ ...SplitInput.fields, nx: Schema.Int, ny: Schema.Int, nChannels: Schema.Int }),
  output: Schema.Struct({ createdAt: Schema.Number }),
  run: (input) =>
    Effect.gen(function* () {
      const table = yield* RunTable
      const now = yield* Clock.currentTimeMillis
      // the cube's identity as split: resume refuses a cube replaced since (CubeCheck in runtime-local)
      const cube = Option.filter(yield* (yield* BlobStore).stat(input.cubeKey), (c) => c.etag !== "")
      const nSpectra = input.nx * input.ny
      const starts = planChunks(nSpectra, input.chunkSize)
      const run: RunRecord = {
        runId: input.runId,
        survey: input.survey,
        cubeKey: input.cubeKey,
        createdAt: now,
        updatedAt: now,
        params: { ...input.params },
        codeVersion: input.codeVersion,
        nx: input.nx,
        ny: input.ny,
        nChannels: input.nChannels,
        chunkSize: input.chunkSize,
        nSpectra,
        jobsTotal: starts.length,
        jobsCompleted: 0,
        jobsFailed: 0,
        spectraDone: 0,
        spectraDeferred: 0,
        slowPending: 0,
        status: "SPLITTING",
        reason: null,
        ...hduField(input.hdu),
        ...(input.refit === undefined || input.refit === "none" ? {} : { refit: input.refit }),
        ...(input.cubeName === undefined ? {} : { cubeName: input.cubeName }),
        ...Option.match(cube, { onNone: () => ({}), onSome: (c) => ({ cubeEtag: c.etag, cubeSize: c.size }) })
      }
      const chunks = starts.map((start) => pendingChunk(input.runId, start, Math.min(input.chunkSize, nSpectra - start)))
      const stored = yield* table.createRun(run, chunks)
      return { createdAt: stored.createdAt }
    })
})

const writePayloadsStep = Step.make({
  name: "write-payloads",
  input: Schema.Struct({ runId: Schema.String, cubeKey: Schema.String, hdu: Schema.optional(Schema.Int), start: Schema.Int, count: Schema.Int, chunkSize: Schema.Int }),
  output: Schema.Struct({ blank: Schema.Int }),
  run: ({ runId, cubeKey, hdu, start, count, chunkSize }) =>
    Effect.gen(function* () {
      const store = yield* BlobStore
      // One open of the cube for the header and the block's hundreds of ranges (one per channel plane).
      const src = yield* rangeReader(cubeKey)
      const header = yield* Fits.readHeader(src, Fits.hduOptions(hdu))
      const spectra = yield* Fits.readSpectra(src, header, start, count)
      const n = header.nchan
      let blank = 0
      for (let s = 0; s < count; s++) {
        // Blank as the decomposer sees it: no finite channel (NaN and ±Infinity alike).
        let allBlank = true
        for (let c = s * n; c < (s + 1) * n; c++) {
          if (Number.isFinite(spectra[c])) {
            allBlank = false
            break
          }
        }
        if (allBlank) blank++
      }
      // The payloads are written side by side: each put waits on its own fsyncs, which is
      // most of a block's time when written one after another.
      const firsts: Array<number> = []
      for (let first = start; first < start + count; first += chunkSize) firsts.push(first)
      yield* Effect.forEach(
        firsts,
        (first) => {
          const m = Math.min(chunkSize, start + count - first)
          return store.put(Keys.chunkPayload(runId, first), new Uint8Array(spectra.buffer, (first - start) * n * 4, m * n * 4))
        },
        { concurrency: PAYLOAD_PUTS, discard: true }
      )
      // The block is written: free it now, not at the next major GC (internal/release.ts).
      releaseWhole([spectra])
      return { blank }
    }).pipe(Effect.scoped, Effect.catchTag("FitsError", (e) => Effect.fail(new InvalidInput({ reason: e.reason }))))
})

/**
 * Writes a chunk's payload again from the cube the run was split from (the payload was
 * lost); returns its bytes.
 *
 * @since 0.1.0
 * @category combinators
 */
export const rewritePayload = (task: Pick<FitTask, "runId" | "start" | "count" | "payloadKey">) =>
  Effect.gen(function* () {
    const table = yield* RunTable
    const store = yield* BlobStore
    const run = yield* table.getRun(task.runId)
    if (Option.isNone(run)) return yield* Effect.fail(new BlobNotFound({ key: task.payloadKey }))
    const spectra = yield* Effect.scoped(
      Effect.gen(function* () {
        const src = yield* rangeReader(run.value.cubeKey)
        const header = yield* Fits.readHeader(src, Fits.hduOptions(run.value.hdu))
        return yield* Fits.readSpectra(src, header, task.start, task.count)
      })
    )
    const bytes = new Uint8Array(spectra.buffer, spectra.byteOffset, spectra.byteLength)
    yield* store.put(task.payloadKey, bytes)
    return bytes
  }).pipe(Effect.catchTag("FitsError", (e) => Effect.fail(new InvalidInput({ reason: e.reason }))))

const enqueueStep = Step.make({
  name: "enqueue",
  input: Schema.Struct({ tasks: Schema.Array(FitTask) }),
  output: Schema.Struct({ sent: Schema.Int }),
  run: ({ tasks }) =>
    Effect.gen(function* () {
      const queue = yield* WorkQueue
      const encode = Schema.encodeSync(FitTask)
      for (let i = 0; i < tasks.length; i += 100) {
        yield* queue.send("fit", tasks.slice(i, i + 100).map((t) => JSON.stringify(encode(t))))
      }
      return { sent: tasks.length }
    })
})

const startStep = Step.make({
  name: "start-run",
  input: Schema.Struct({ runId: Schema.String }),
  output: Schema.Struct({ status: Schema.String }),
  run: ({ runId }) =>
    Effect.gen(function* () {
      const table = yield* RunTable
      const { run } = yield* table.transition(runId, ["SPLITTING"], "RUNNING")
      return { status: run.status }
    })
})

/**
 * Chunk starts for `nSpectra` spectra in chunks of `chunkSize`.
 *
 * @since 0.1.0
 * @category utils
 */
export const planChunks = (nSpectra: number, chunkSize: number): number[] => {
  const starts: number[] = []
  for (let s = 0; s < nSpectra; s += chunkSize) starts.push(s)
  return starts
}

/**
 * The pixels of the chunk at `start` (`count` spectra, a run of row-major pixels), in
 * payload order, with their bounding box.
 *
 * @since 0.3.0
 * @category utils
 */
export const chunkPixels = (start: number, count: number, nx: number): Stage.ChunkPixels => {
  const pixels = Array.from({ length: count }, (_, i) => start + i)
  const last = start + count - 1
  const y0 = Math.floor(start / nx)
  const y1 = Math.floor(last / nx)
  return { start, pixels, box: { x0: y1 > y0 ? 0 : start % nx, y0, x1: y1 > y0 ? nx - 1 : last % nx, y1 } }
}

/**
 * The start of the chunk holding a pixel.
 *
 * @since 0.3.0
 * @category utils
 */
export const chunkOfPixel = (pixel: number, chunkSize: number): number => Math.floor(pixel / chunkSize) * chunkSize

/**
 * Removes everything a split wrote for a run that must not become visible.
 *
 * @since 0.1.0
 * @category combinators
 */
export const discardRun = (runId: string) =>
  Effect.gen(function* () {
    const store = yield* BlobStore
    const table = yield* RunTable
    for (const key of yield* store.list(Keys.runChunks(runId))) yield* store.remove(key)
    yield* table.deleteRun(runId)
  })

/**
 * @since 0.1.0
 * @category stages
 */
export const split = Stage.make({
  name: "split",
  input: SplitInput,
  output: SplitOutput,
  run: (input) =>
    Effect.gen(function* () {
      const geo = yield* Step.run(readHeaderStep, { cubeKey: input.cubeKey, ...hduField(input.hdu) })
      const nSpectra = geo.nx * geo.ny
      const chunkSize = CubeLimits.chunkSpectra(input.chunkSize, geo.nChannels)
      yield* Step.run(registerStep, { ...input, chunkSize, nx: geo.nx, ny: geo.ny, nChannels: geo.nChannels })
      const starts = planChunks(nSpectra, chunkSize)
      const perBlock = chunksPerBlock(chunkSize, geo.nChannels)
      let blank = 0
      for (let i = 0; i < starts.length; i += perBlock) {
        const first = starts[i]
        const last = Math.min(nSpectra, starts[Math.min(i + perBlock, starts.length) - 1] + chunkSize)
        const written = yield* Step.run(writePayloadsStep, {
          runId: input.runId,
          cubeKey: input.cubeKey,
          ...hduField(input.hdu),
          start: first,
          count: last - first,
          chunkSize
        })
        blank += written.blank
      }
      if (blank === nSpectra) {
        yield* discardRun(input.runId)
        return yield* Effect.fail(new InvalidInput({ reason: `every spectrum of the cube is blank (NaN or infinite): ${geo.description}` }))
      }
      const params = Schema.decodeSync(RunParams)(input.params)
      const tasks: FitTask[] = starts.map((start) => ({
        runId: input.runId,
        survey: input.survey,
        start,
        count: Math.min(chunkSize, nSpectra - start),
        nx: geo.nx,
        nChannels: geo.nChannels,
        params,
        payloadKey: Keys.chunkPayload(input.runId, start),
        outputKey: Keys.chunkResult(input.runId, start)
      }))
      yield* Step.run(enqueueStep, { tasks })
      yield* Step.run(startStep, { runId: input.runId })
      return { runId: input.runId, nSpectra, blankSpectra: blank, tasks }
    })
})
