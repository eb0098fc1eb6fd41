/**
 * The refit's worker threads as a service: the refit stage runs each chunk's
 * {@link refitChunk} on one of them, so a pass's chunks in flight use every core (the native
 * `decompose` and LM fit the refit calls are synchronous: inline, every chunk would wait for
 * the main thread). Without the service in context the stage refits inline (tests, and the
 * Lambda stage worker, which works one chunk at a time). See docs/architecture.md, "Refit
 * worker threads".
 *
 * @since 0.3.0
 */
import { Config, Context, Effect, Layer, Option, Queue, Schema } from "effect"
import * as os from "node:os"
import { Worker } from "node:worker_threads"
import type { InvalidInput } from "../Errors.js"
import * as Settings from "../Settings.js"
import { type RefitRow, RefitInputError } from "./RefitBlock.js"
import type { RefitChunk } from "./RefitChunk.js"
import * as RowBatch from "../RowBatch.js"

/**
 * A refit worker thread failed: it could not start, crashed, or threw something other than
 * `RefitInputError`. Retryable: the chunk is redelivered (a fresh worker takes it), as
 * after any transient failure.
 *
 * @since 0.3.0
 * @category errors
 */
export class RefitWorkerError extends Schema.TaggedError<RefitWorkerError>()("RefitWorkerError", {
  reason: Schema.String
}) {
  get retryable(): boolean {
    return true
  }
  override get message(): string {
    return `refit worker: ${this.reason}`
  }
}

/**
 * A chunk for a worker, its rows as columns (`RowBatch`, whose typed arrays' buffers are
 * transferred: no copy, and a loop over numbers instead of a structured clone of ~1,400 row
 * objects; `npm run bench:refit-transfer`), with `id` to match the reply.
 *
 * @since 0.3.0
 * @category models
 */
export interface RefitRequest {
  readonly id: number
  readonly chunk: Omit<RefitChunk, "rows"> & { readonly rows: RowBatch.RowBatch }
}

/**
 * A worker's answer to a {@link RefitRequest}.
 *
 * @since 0.3.0
 * @category models
 */
export type RefitReply =
  | { readonly id: number; readonly _tag: "Rows"; readonly rows: RowBatch.RowBatch }
  | { readonly id: number; readonly _tag: "RefitInputError"; readonly reason: string }
  | { readonly id: number; readonly _tag: "Thrown"; readonly reason: string }

/**
 * @since 0.3.0
 * @category tags
 */
export class RefitPool extends Context.Tag("@phs/core/RefitPool")<
  RefitPool,
  {
    /** Worker threads at most. */
    readonly size: number
    /**
     * The chunk's rows after the pass, computed on a worker; `chunk.spectra`'s buffer is
     * moved to the worker when the array spans all of it (it is detached here after), else copied.
     */
    readonly refit: (chunk: RefitChunk) => Effect.Effect<Array<RefitRow>, RefitInputError | RefitWorkerError>
  }
>() {}

/**
 * The environment variable of the pool's size (default: `os.availableParallelism()`).
 *
 * @since 0.3.0
 * @category constants
 */
export const WORKERS_ENV = "PHS_REFIT_WORKERS"

/**
 * The pool's size from {@link WORKERS_ENV}.
 *
 * @since 0.3.0
 * @category settings
 */
export const config: Config.Config<number> = Settings.optionalParsed(WORKERS_ENV, Settings.positiveInteger).pipe(
  Config.map(Option.getOrElse(() => os.availableParallelism()))
)

/**
 * The worker's module: the compiled one beside this file, or under vitest (which runs the
 * sources) the source itself.
 *
 * @since 0.3.0
 * @category constants
 */
export const workerEntry = (): URL => new URL(import.meta.url.endsWith(".ts") ? "./RefitWorker.ts" : "./RefitWorker.js", import.meta.url)

/** The spectra to send and what to transfer: the array's own buffer when it spans all of it, else a copy. */
const movable = (spectra: Float32Array): { spectra: Float32Array; transfer: ArrayBuffer } => {
  const whole = spectra.buffer instanceof ArrayBuffer && spectra.byteOffset === 0 && spectra.byteLength === spectra.buffer.byteLength
  const own = whole ? spectra : spectra.slice()
  return { spectra: own, transfer: own.buffer as ArrayBuffer }
}

/** One worker thread, started on first use and again after it failed. */
interface Slot {
  worker: Worker | undefined
  readonly entry: URL
}

/** A new worker for the slot; one that dies, even idle, leaves the slot to a fresh one (and never goes unheard). */
const started = (slot: Slot): Worker => {
  const worker = new Worker(slot.entry)
  const gone = () => {
    if (slot.worker === worker) slot.worker = undefined
  }
  worker.on("error", gone).on("exit", gone)
  slot.worker = worker
  return worker
}

const runOn = (slot: Slot, id: number, chunk: RefitChunk) =>
  Effect.async<Array<RefitRow>, RefitInputError | RefitWorkerError>((resume) => {
    let worker: Worker
    try {
      worker = slot.worker ?? started(slot)
    } catch (e) {
      resume(Effect.fail(new RefitWorkerError({ reason: `cannot start: ${e instanceof Error ? e.message : String(e)}` })))
      return
    }
    let settled = false
    const settle = (result: Effect.Effect<Array<RefitRow>, RefitInputError | RefitWorkerError>, keep: boolean) => {
      if (settled) return
      settled = true
      worker.off("message", onMessage).off("messageerror", onMessageError).off("error", onError).off("exit", onExit)
      if (keep) worker.unref()
      else {
        // broken or still busy: never given another chunk
        slot.worker = undefined
        void worker.terminate()
      }
      resume(result)
    }
    const onMessage = (reply: RefitReply) => {
      if (reply.id !== id) return
      // a worker's rows are refitChunk's
      if (reply._tag === "Rows") settle(Effect.succeed(RowBatch.toRows(reply.rows) as Array<RefitRow>), true)
      else if (reply._tag === "RefitInputError") settle(Effect.fail(new RefitInputError({ reason: reply.reason })), true)
      else settle(Effect.fail(new RefitWorkerError({ reason: reply.reason })), false)
    }
    const onMessageError = (e: Error) => settle(Effect.fail(new RefitWorkerError({ reason: `unreadable reply: ${e.message}` })), false)
    const onError = (e: Error) => settle(Effect.fail(new RefitWorkerError({ reason: `crashed: ${e.message}` })), false)
    const onExit = (code: number) => settle(Effect.fail(new RefitWorkerError({ reason: `exited with code ${code}` })), false)
    worker.on("message", onMessage).on("messageerror", onMessageError).on("error", onError).on("exit", onExit)
    worker.ref()
    try {
      const { spectra, transfer } = movable(chunk.spectra)
      const rows = RowBatch.fromRows(chunk.rows)
      worker.postMessage({ id, chunk: { ...chunk, rows, spectra } } satisfies RefitRequest, [transfer, ...RowBatch.buffersOf(rows)])
    } catch (e) {
      settle(Effect.fail(new RefitWorkerError({ reason: `cannot send the chunk: ${e instanceof Error ? e.message : String(e)}` })), true)
    }
    // interrupted (a timeout, the scope closing): the worker is still at it
    return Effect.sync(() => settle(Effect.interrupt, false))
  })

/**
 * A pool of `size` worker threads running `entry` (tests pass a worker of their own),
 * started as chunks come (none before the first) and terminated when the scope closes. A
 * chunk waits for a free worker; an idle worker does not keep the process alive.
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = (size: number, entry: URL = workerEntry()) =>
  Effect.gen(function* () {
    if (!Number.isInteger(size) || size < 1) return yield* Effect.dieMessage(`refit pool size must be a positive integer, got ${size}`)
    const slots: Array<Slot> = Array.from({ length: size }, () => ({ worker: undefined, entry }))
    const idle = yield* Queue.bounded<Slot>(size)
    yield* Queue.offerAll(idle, slots)
    yield* Effect.addFinalizer(() => Effect.promise(() => Promise.all(slots.map((s) => s.worker?.terminate()))))
    let requests = 0
    return RefitPool.of({
      size,
      refit: (chunk) =>
        Effect.acquireUseRelease(
          Queue.take(idle),
          (slot) => runOn(slot, ++requests, chunk),
          (slot) => Queue.offer(idle, slot)
        )
    })
  })

/**
 * The pool of `size` workers (running `entry`).
 *
 * @since 0.3.0
 * @category layers
 */
export const layerOf = (size: number, entry?: URL): Layer.Layer<RefitPool> => Layer.scoped(RefitPool, make(size, entry))

/**
 * The pool sized by {@link WORKERS_ENV} (default: every core); a malformed value is `InvalidInput`.
 *
 * @since 0.3.0
 * @category layers
 */
export const layer: Layer.Layer<RefitPool, InvalidInput> = Layer.scoped(RefitPool, Effect.flatMap(Settings.load(config), make))
