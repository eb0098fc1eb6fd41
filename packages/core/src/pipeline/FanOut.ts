/**
 * User fan-out stages (`Stage.fanOut`) in the engine: the per-chunk execution (two durable
 * steps: run the stage and write the chunk's rows, then count the chunk done in the run
 * table), the run-level step that enqueues a stage's chunks on the shared `stage` queue
 * once the stage before it is done (the barrier), and the halo reads.
 *
 * @since 0.3.0
 */
import { Context, Effect, Layer, Option, Schema } from "effect"
import { Buffer } from "node:buffer"
import { BlobStore } from "../BlobStore.js"
import { InvalidInput, isRetryable } from "../Errors.js"
import type { Handled } from "../Delivery.js"
import * as Keys from "../Keys.js"
import { type DecompositionRow, RESULT_COLUMNS } from "../ResultSchema.js"
import * as ResultColumns from "../ResultColumns.js"
import * as ResultParquet from "../ResultParquet.js"
import * as RowBatch from "../RowBatch.js"
import { RunTable, type ChunkRecord, type RunRecord } from "../RunTable.js"
import * as Stage from "../Stage.js"
import * as Step from "../Step.js"
import { readPayload } from "../stages/Fit.js"
import { chunkOfPixel, chunkPixels } from "../stages/Split.js"
import { RunParams, RunRef, StageChunkOutput, StageTask } from "../stages/Tasks.js"
import { WorkQueue } from "../WorkQueue.js"
import { cubeWorld } from "../wcs/WorldColumns.js"
import type { FanOutStage, Pipeline } from "./Compose.js"
import { getRun } from "./Prepare.js"
import { fitTaskOf } from "./Recovery.js"

/**
 * Where the rows of `stage`'s chunk at `start` are: the fit's chunk result, or a fan-out
 * stage's.
 *
 * @since 0.3.0
 * @category keys
 */
export const resultKeyOf = (runId: string, stage: string, start: number): string =>
  stage === "fit" ? Keys.chunkResult(runId, start) : Keys.stageResult(runId, stage, start)

/**
 * The `stage` message of a fan-out stage's chunk.
 *
 * @since 0.3.0
 * @category constructors
 */
export const stageTaskOf = (stage: FanOutStage, run: RunRecord, chunk: Pick<ChunkRecord, "start" | "count">): StageTask => ({
  ...fitTaskOf(run, chunk),
  outputKey: Keys.stageResult(run.runId, stage.name, chunk.start),
  stage: stage.name,
  after: stage.after,
  ny: run.ny,
  chunkSize: run.chunkSize
})

/**
 * Decoded result files a process keeps for its fan-out stages, as columns, at most
 * {@link DECODED_FILES} of them, the least recently used dropped first: a chunk's rows are
 * read by its own stage execution and by the halos of the chunks next to it, which a pass
 * runs at about the same time, so each file of a pass is decoded once. An entry is found by
 * the blob's key and used only when the bytes read now are the bytes it was decoded from,
 * so a file written again (a redelivered chunk, a replay) is never answered from an older
 * one. What it holds is never handed out: every read builds its own row objects.
 * Optional: without it (tests, the Lambda stage worker, which works one chunk per
 * invocation) every read decodes.
 *
 * @since 0.4.0
 * @category tags
 */
export class DecodedFiles extends Context.Tag("@phs/core/DecodedFiles")<
  DecodedFiles,
  {
    /** The batch decoded from `bytes` read at `key`, if kept. */
    readonly find: (key: string, bytes: Uint8Array) => RowBatch.RowBatch | undefined
    readonly keep: (key: string, bytes: Uint8Array, batch: RowBatch.RowBatch) => void
  }
>() {}

/**
 * How many decoded files {@link DecodedFiles} keeps: a chunk reads its own file and its halo's
 * (the chunks before and after it: a chunk spans at least a map row) while the next few are in
 * flight; each file is ~0.3 MiB kept (its bytes and its columns), so a few MiB in all, whatever
 * the cube's size.
 *
 * @since 0.4.0
 * @category constants
 */
export const DECODED_FILES = 16

const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  a === b || Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))

/**
 * @since 0.4.0
 * @category constructors
 */
export const makeDecodedFiles = (capacity: number = DECODED_FILES): Context.Tag.Service<DecodedFiles> => {
  // a Map iterates in insertion order: re-inserting on use keeps the least recently used first
  const entries = new Map<string, { readonly bytes: Uint8Array; readonly batch: RowBatch.RowBatch }>()
  return {
    find: (key, bytes) => {
      const entry = entries.get(key)
      if (entry === undefined || !sameBytes(entry.bytes, bytes)) return undefined
      entries.delete(key)
      entries.set(key, entry)
      return entry.batch
    },
    keep: (key, bytes, batch) => {
      entries.delete(key)
      entries.set(key, { bytes, batch })
      for (const oldest of entries.keys()) {
        if (entries.size <= capacity) break
        entries.delete(oldest)
      }
    }
  }
}

/**
 * A {@link DecodedFiles} of its own for each use of the layer (the local CLI's runtime).
 *
 * @since 0.4.0
 * @category layers
 */
export const layerDecodedFiles: Layer.Layer<DecodedFiles> = Layer.sync(DecodedFiles, () => makeDecodedFiles())

/** The result file at `key` as columns: decoded, or kept from an earlier read of the same bytes. */
const readBatch = (key: string) =>
  Effect.gen(function* () {
    const bytes = yield* Effect.flatMap(BlobStore, (store) => store.get(key))
    const kept = yield* Effect.serviceOption(DecodedFiles)
    const found = Option.isSome(kept) ? kept.value.find(key, bytes) : undefined
    if (found !== undefined) return found
    const batch = yield* ResultColumns.decodeBatch(bytes)
    if (Option.isSome(kept)) kept.value.keep(key, bytes, batch)
    return batch
  })

const readRows = (key: string) => Effect.map(readBatch(key), (batch) => RowBatch.toRows(batch))

const X = RESULT_COLUMNS.findIndex((c) => c.name === "x")
const Y = RESULT_COLUMNS.findIndex((c) => c.name === "y")

/**
 * The previous stage's rows of every pixel within Chebyshev distance `radius` of the chunk
 * that is not the chunk's, sorted by (y, x): the chunk's pixels dilated by `radius` inside
 * their bounding box grown by `radius`, read from the chunks that hold them.
 *
 * @since 0.3.0
 * @category combinators
 */
export const haloRows = (task: StageTask, radius: number) =>
  Effect.gen(function* () {
    const { pixels, box } = chunkPixels(task.start, task.count, task.nx)
    const x0 = Math.max(0, box.x0 - radius)
    const y0 = Math.max(0, box.y0 - radius)
    const x1 = Math.min(task.nx - 1, box.x1 + radius)
    const y1 = Math.min(task.ny - 1, box.y1 + radius)
    const w = x1 - x0 + 1
    const h = y1 - y0 + 1
    const own = new Uint8Array(w * h)
    for (const p of pixels) own[(Math.floor(p / task.nx) - y0) * w + (p % task.nx) - x0] = 1
    // Chebyshev dilation is separable: a running max along x, then along y.
    const along = (src: Uint8Array, horizontal: boolean) => {
      const out = new Uint8Array(w * h)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          if (src[y * w + x] === 0) continue
          for (let d = -radius; d <= radius; d++) {
            const xx = horizontal ? x + d : x
            const yy = horizontal ? y : y + d
            if (xx >= 0 && xx < w && yy >= 0 && yy < h) out[yy * w + xx] = 1
          }
        }
      return out
    }
    const near = along(along(own, true), false)
    const wanted = new Set<number>()
    const chunks = new Set<number>()
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        if (near[y * w + x] === 0 || own[y * w + x] === 1) continue
        const p = (y + y0) * task.nx + x + x0
        wanted.add(p)
        chunks.add(chunkOfPixel(p, task.chunkSize))
      }
    const rows: DecompositionRow[] = []
    for (const start of [...chunks].sort((a, b) => a - b)) {
      const batch = yield* readBatch(resultKeyOf(task.runId, task.after, start))
      const xs = (batch.columns[X] as RowBatch.NumberColumn).values
      const ys = (batch.columns[Y] as RowBatch.NumberColumn).values
      // only the halo's rows become objects
      const at: number[] = []
      for (let i = 0; i < batch.rows; i++) if (wanted.has(ys[i] * task.nx + xs[i])) at.push(i)
      rows.push(...RowBatch.toRows(batch, at))
    }
    return rows.sort((a, b) => a.y - b.y || a.x - b.x)
  })

/** The rows a stage returned, checked and put in chunk order: exactly one per pixel. */
const inChunkOrder = (task: StageTask, pixels: ReadonlyArray<number>, rows: ReadonlyArray<DecompositionRow>) => {
  const byPixel = new Map<number, DecompositionRow>()
  for (const r of rows) byPixel.set(r.y * task.nx + r.x, r)
  const ordered = pixels.flatMap((p) => Option.toArray(Option.fromNullable(byPixel.get(p))))
  return ordered.length === pixels.length && byPixel.size === pixels.length
    ? Effect.succeed(ordered)
    : Effect.fail(
        new InvalidInput({
          reason: `stage ${task.stage} returned ${rows.length} rows for chunk ${task.start}; it must return one row per pixel (${pixels.length})`
        })
      )
}

const runChunkStep = (stage: FanOutStage) =>
  Step.make({
    name: "run-chunk",
    input: StageTask,
    output: Schema.Struct({ rows: Schema.Int }),
    run: (task) =>
      Effect.gen(function* () {
        const services = yield* Effect.context<BlobStore | RunTable>()
        const chunk = chunkPixels(task.start, task.count, task.nx)
        const rows = yield* inChunkOrder(task, chunk.pixels, yield* readRows(resultKeyOf(task.runId, task.after, task.start)))
        const out = yield* stage.run({
          runId: task.runId,
          stage: stage.name,
          chunk,
          grid: { nx: task.nx, ny: task.ny, nChannels: task.nChannels },
          params: task.params,
          rows,
          halo: (radius) =>
            Number.isInteger(radius) && radius >= 0 && radius <= stage.halo
              ? Effect.provide(haloRows(task, radius), services)
              : Effect.fail(new InvalidInput({ reason: `stage ${stage.name} asked for a halo of ${radius}; it declared at most ${stage.halo}` })),
          spectra: () => Effect.provide(readPayload(task), services),
          world: () =>
            Effect.provide(cubeWorld(task.runId), services).pipe(
              Effect.catchTag("RunNotFound", (e) => Effect.fail(new InvalidInput({ reason: `run ${e.runId} is not in the run table` })))
            )
        })
        const ordered = yield* inChunkOrder(task, chunk.pixels, out)
        yield* Effect.flatMap(BlobStore, (store) => store.put(task.outputKey, ResultParquet.encodeRows(ordered)))
        return { rows: ordered.length }
      })
  })

const completeStageStep = Step.make({
  name: "complete-chunk",
  input: Schema.Struct({ runId: Schema.String, stage: Schema.String, start: Schema.Int }),
  output: Schema.Struct({ completed: Schema.Int, total: Schema.Int }),
  run: ({ runId, stage, start }) =>
    Effect.gen(function* () {
      const table = yield* RunTable
      const { completed } = yield* table.completeStageChunk(runId, stage, start)
      return { completed, total: (yield* getRun(runId)).jobsTotal }
    })
})

/**
 * One chunk of a fan-out stage, as a stage execution (scope `chunk-{start}`).
 *
 * @since 0.3.0
 * @category stages
 */
export const chunkStage = (stage: FanOutStage) =>
  Stage.make({
    name: stage.name,
    input: StageTask,
    output: StageChunkOutput,
    run: (task) =>
      Effect.gen(function* () {
        const out = yield* Step.run(runChunkStep(stage), task)
        const done = yield* Step.run(completeStageStep, { runId: task.runId, stage: stage.name, start: task.start })
        return { start: task.start, rows: out.rows, stageDone: done.completed >= done.total }
      })
  })

const enqueueStep = Step.make({
  name: "enqueue",
  input: Schema.Struct({ tasks: Schema.Array(StageTask) }),
  output: Schema.Struct({ sent: Schema.Int }),
  run: ({ tasks }) =>
    Effect.gen(function* () {
      const queue = yield* WorkQueue
      const encode = Schema.encodeSync(StageTask)
      for (let i = 0; i < tasks.length; i += 100) yield* queue.send("stage", tasks.slice(i, i + 100).map((t) => JSON.stringify(encode(t))))
      return { sent: tasks.length }
    })
})

/**
 * The run-level start of a fan-out stage (scope `run`): one `stage` message per chunk.
 * Journaled, so starting it again sends nothing twice.
 *
 * @since 0.3.0
 * @category stages
 */
export const startStage = (stage: FanOutStage) =>
  Stage.make({
    name: stage.name,
    input: RunRef,
    output: Schema.Struct({ sent: Schema.Int }),
    run: ({ runId }) =>
      Effect.gen(function* () {
        const run = yield* getRun(runId)
        const chunks = yield* Effect.flatMap(RunTable, (t) => t.listChunks(runId))
        return yield* Step.run(enqueueStep, { tasks: chunks.map((c) => stageTaskOf(stage, run, c)) })
      })
  })

/**
 * The first fan-out stage of the pipeline with chunks left (none: every one is done).
 *
 * @since 0.3.0
 * @category engine
 */
export const pendingStage = (pipeline: Pipeline, run: RunRecord) =>
  Effect.gen(function* () {
    if (pipeline.fanOut.length === 0) return Option.none<FanOutStage>()
    const progress = yield* Effect.flatMap(RunTable, (t) => t.stageProgress(run.runId))
    return Option.fromNullable(pipeline.fanOut.find((s) => (progress[s.name] ?? 0) < run.jobsTotal))
  })

/**
 * Handles a `stage` message: run the named fan-out stage over its chunk (again, cheaply,
 * when it is done: the journal answers). A fatal error fails the run with the reason.
 * `runSettled` says the stage has just finished its last chunk: what comes next may start.
 *
 * @since 0.3.0
 * @category engine
 */
export const handleStage = (pipeline: Pipeline, body: string, errorText: (e: unknown) => string) =>
  Effect.gen(function* () {
    const task = yield* Effect.try({ try: () => JSON.parse(body) as unknown, catch: () => new InvalidInput({ reason: "message body is not JSON" }) }).pipe(
      Effect.flatMap(Schema.decodeUnknown(StageTask)),
      Effect.mapError((e) => (e._tag === "InvalidInput" ? e : new InvalidInput({ reason: `bad message: ${e.message}` })))
    )
    const stage = pipeline.fanOut.find((s) => s.name === task.stage)
    if (stage === undefined) return yield* Effect.fail(new InvalidInput({ reason: `no fan-out stage named ${task.stage} in this pipeline` }))
    const run = yield* getRun(task.runId)
    if (run.status === "FAILED" || run.status === "COMPLETED") return { _tag: "Done", runId: task.runId, runSettled: false } as Handled
    return yield* Stage.execute(chunkStage(stage), { runId: task.runId, scope: Keys.chunkName(task.start) }, task).pipe(
      Effect.map((out): Handled => ({ _tag: "Done", runId: task.runId, runSettled: out.stageDone })),
      Effect.catchIf(
        (e) => !isRetryable(e),
        (e) => {
          const reason = `stage ${task.stage}, chunk ${task.start}: ${errorText(e)}`
          return Effect.flatMap(RunTable, (t) => t.transition(task.runId, ["RUNNING"], "FAILED", reason)).pipe(
            Effect.as<Handled>({ _tag: "Failed", runId: task.runId, reason, runSettled: false })
          )
        }
      )
    )
  })

/**
 * Fan-out stage progress as the progress display shows it: `despike 3/5` per stage with
 * chunks done (empty when none).
 *
 * @since 0.3.0
 * @category utils
 */
export const stageProgressText = (progress: Readonly<Record<string, number>>, chunks: number): string =>
  Object.entries(progress)
    .map(([stage, done]) => `${stage} ${done}/${chunks}`)
    .join("  ")
