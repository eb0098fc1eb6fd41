/**
 * Stages: a named Effect program over durable steps, with schemas for what goes in and
 * comes out. The pipeline's split, fit, slow-fit and catalog are stages; so is anything a
 * user plugs in (see examples/): a run-level stage (`make`) or one that fans out per chunk
 * (`fanOut`). A runtime executes a stage by giving it a `StepScope`.
 *
 * @since 0.1.0
 */
import { Effect, ParseResult, Schema } from "effect"
import { type BlobNotFound, InvalidInput, type StorageError } from "./Errors.js"
import type { ResultDecodeError } from "./ResultParquet.js"
import type { DecompositionRow } from "./ResultSchema.js"
import type { RunParams } from "./stages/Tasks.js"
import type { CubeWorld } from "./wcs/WorldColumns.js"
import { makeScope, StepScope } from "./Step.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Stage<I, IE, O, OE, E, R> {
  readonly name: string
  readonly input: Schema.Schema<I, IE>
  readonly output: Schema.Schema<O, OE>
  readonly run: (input: I) => Effect.Effect<O, E, R>
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = <I, IE, O, OE, E, R>(stage: Stage<I, IE, O, OE, E, R>): Stage<I, IE, O, OE, E, R> => stage

/**
 * Runs a stage over one scope (a chunk, a run) of a run. Its steps are journaled under
 * (run, stage name, scope).
 *
 * @since 0.1.0
 * @category combinators
 */
export const execute = <I, IE, O, OE, E, R>(
  stage: Stage<I, IE, O, OE, E, R>,
  where: { readonly runId: string; readonly scope: string },
  input: I
): Effect.Effect<O, E, Exclude<R, StepScope>> =>
  Effect.provideService(stage.run(input), StepScope, makeScope(where.runId, stage.name, where.scope)).pipe(
    Effect.withSpan(`stage ${stage.name}`, { attributes: { runId: where.runId, scope: where.scope } })
  )

/**
 * Decodes an encoded input (a queue message, a JSON manifest) with the stage's input schema;
 * a value that does not fit is `InvalidInput`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const decodeInput = <I, IE, O, OE, E, R>(stage: Stage<I, IE, O, OE, E, R>, encoded: unknown): Effect.Effect<I, InvalidInput> =>
  Schema.decodeUnknown(stage.input)(encoded).pipe(
    Effect.mapError(
      (e) => new InvalidInput({ reason: `bad input for stage ${stage.name}: ${ParseResult.TreeFormatter.formatErrorSync(e)}` })
    )
  )

/**
 * The pixels of one chunk: indices `y · nx + x` in the chunk's order (the order of its
 * spectra and of the rows a stage gets and returns), and their bounding box.
 *
 * @since 0.3.0
 * @category models
 */
export interface ChunkPixels {
  /** The chunk's id: its first pixel. */
  readonly start: number
  readonly pixels: ReadonlyArray<number>
  /** Bounding box, inclusive: columns x0..x1, rows y0..y1. */
  readonly box: { readonly x0: number; readonly y0: number; readonly x1: number; readonly y1: number }
}

/**
 * What a fan-out stage's `run` gets for one chunk. `rows` are the previous stage's rows of
 * the chunk's pixels, in chunk order; `halo(r)` the previous stage's rows of every pixel
 * within Chebyshev distance `r` of the chunk that belongs to another chunk, sorted by (y, x)
 * (available once every chunk of the previous stage is done: the stage starts behind a
 * barrier); `spectra()` the chunk's spectra, `nChannels` float32 per pixel in chunk order.
 *
 * @since 0.3.0
 * @category models
 */
export interface FanOutContext {
  readonly runId: string
  readonly stage: string
  readonly chunk: ChunkPixels
  readonly grid: { readonly nx: number; readonly ny: number; readonly nChannels: number }
  readonly params: RunParams
  readonly rows: ReadonlyArray<DecompositionRow>
  readonly halo: (radius: number) => Effect.Effect<ReadonlyArray<DecompositionRow>, FanOutReadError>
  readonly spectra: () => Effect.Effect<Float32Array, FanOutReadError>
  /** the cube's world (key and WCS), for rows whose km/s and (l, b) columns the stage recomputes (`worldColumns`) */
  readonly world: () => Effect.Effect<CubeWorld, FanOutReadError>
}

/**
 * What reading a chunk's inputs (halo, spectra) can fail with.
 *
 * @since 0.3.0
 * @category models
 */
export type FanOutReadError = StorageError | BlobNotFound | ResultDecodeError | InvalidInput

/**
 * A user stage that fans out per chunk like the fit: one durable execution per chunk, after
 * every chunk of the stage named `after` is done (the fit, or the fan-out stage before it).
 * `run` returns the chunk's rows (one per pixel, any order); the catalog publishes the rows
 * of the last fan-out stage of the pipeline. `halo` is the largest radius it will ask
 * `ctx.halo` for (0: none); a pipeline with a halo stage is split into square blocks.
 * See docs/fan-out-stages.md.
 *
 * @since 0.3.0
 * @category models
 */
export interface FanOut<E, R> {
  readonly _tag: "FanOut"
  readonly name: string
  readonly after: string
  readonly halo: number
  readonly run: (ctx: FanOutContext) => Effect.Effect<ReadonlyArray<DecompositionRow>, E, R>
}

/**
 * Declares a fan-out stage; plug it in with `Pipeline.withStage`.
 *
 * @since 0.3.0
 * @category constructors
 */
export const fanOut = <E, R>(spec: {
  readonly name: string
  readonly after: string
  readonly halo?: number
  readonly run: (ctx: FanOutContext) => Effect.Effect<ReadonlyArray<DecompositionRow>, E, R>
}): FanOut<E, R> => ({ _tag: "FanOut", name: spec.name, after: spec.after, halo: spec.halo ?? 0, run: spec.run })
