/**
 * fit: decompose one chunk's spectra under a per-spectrum budget, write the chunk's Parquet
 * file at its deterministic key, mark the chunk COMPLETED and add to the run's counters in
 * one conditional write, and send over-budget spectra (`n_components = -1`) to the slow
 * queue. Every effect is a step, so a redelivered message changes nothing already done.
 *
 * @since 0.1.0
 */
import { Context, Effect, Option, Schema } from "effect"
import { BlobStore } from "../BlobStore.js"
import { Fitter, type Decomposition } from "../Fitter.js"
import { fitParams } from "../Params.js"
import type { DecompositionRow } from "../ResultSchema.js"
import * as ResultParquet from "../ResultParquet.js"
import { isSettled, RunTable } from "../RunTable.js"
import * as Stage from "../Stage.js"
import * as Step from "../Step.js"
import { WorkQueue } from "../WorkQueue.js"
import { type CubeWorld, cubeWorld, worldColumns } from "../wcs/WorldColumns.js"
import { rewritePayload } from "./Split.js"
import { FitOutput, FitTask, SlowTask } from "./Tasks.js"

/**
 * When set (on Lambda: the invocation deadline minus 60 s), the fit starts no spectrum
 * after this epoch ms; the rest are deferred to the slow queue.
 *
 * @since 0.1.0
 * @category tags
 */
export class StartDeadline extends Context.Tag("@phs/core/StartDeadline")<StartDeadline, number>() {}

/**
 * A chunk's spectra from its payload blob; a payload that is gone is split again from the
 * cube (`Split.rewritePayload`).
 *
 * @since 0.1.0
 * @category combinators
 */
export const readPayload = (task: FitTask) =>
  Effect.gen(function* () {
    const store = yield* BlobStore
    const bytes = yield* store.get(task.payloadKey).pipe(Effect.catchTag("BlobNotFound", () => rewritePayload(task)))
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + task.count * task.nChannels * 4))
  })

/**
 * The result row of the spectrum at `offset` within a chunk, with the world columns of
 * its cube.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toRow = (task: FitTask, offset: number, d: Decomposition, world: CubeWorld): DecompositionRow => {
  const pixel = task.start + offset
  const deferred = d.status === "timeout"
  const x = pixel % task.nx
  const y = Math.floor(pixel / task.nx)
  return {
    x,
    y,
    beta: task.params.beta,
    rms: d.rms !== null && Number.isFinite(d.rms) ? d.rms : null,
    min_persistence: Number.isFinite(d.minPersistence) ? d.minPersistence : null,
    n_components: deferred ? -1 : d.components.length,
    component_amplitudes: deferred ? [] : d.components.map((c) => c.amplitude),
    component_means: deferred ? [] : d.components.map((c) => c.mean),
    component_stddevs: deferred ? [] : d.components.map((c) => c.stddev),
    nan_channels: d.nanChannels,
    residual_rms: deferred ? null : d.residualRms,
    chi2_reduced: deferred ? null : d.chi2Reduced,
    aicc: deferred ? null : d.aicc,
    component_amplitude_errors: deferred ? [] : d.componentErrors.map((e) => e.amplitude),
    component_mean_errors: deferred ? [] : d.componentErrors.map((e) => e.mean),
    component_stddev_errors: deferred ? [] : d.componentErrors.map((e) => e.stddev),
    run_id: task.runId,
    ...worldColumns(world, x, y, deferred ? [] : d.components)
  }
}

const fitChunkStep = Step.make({
  name: "fit-chunk",
  input: FitTask,
  output: Schema.Struct({ rows: Schema.Int, deferred: Schema.Array(Schema.Int) }),
  run: (task) =>
    Effect.gen(function* () {
      const store = yield* BlobStore
      const fitter = yield* Fitter
      const startBefore = yield* Effect.serviceOption(StartDeadline)
      const world = yield* cubeWorld(task.runId)
      // The payload, the results and the row objects live only inside this callback, so they
      // are garbage before the put's write and fsync: chunks in flight hold only their bytes.
      const fitted = yield* Effect.flatMap(readPayload(task), (spectra) =>
        Effect.map(
          fitter.decomposeBatch(spectra, task.nChannels, fitParams(task.params), {
            timeoutMs: task.params.timeout_ms,
            ...(Option.isSome(startBefore) ? { startBefore: startBefore.value } : {})
          }),
          (results) => ({
            bytes: ResultParquet.encodeRows(results.map((d, i) => toRow(task, i, d, world))),
            rows: results.length,
            deferred: results.flatMap((d, i) => (d.status === "timeout" ? [i] : []))
          })
        )
      )
      yield* store.put(task.outputKey, fitted.bytes)
      return { rows: fitted.rows, deferred: fitted.deferred }
    })
})

const completeStep = Step.make({
  name: "complete-chunk",
  input: Schema.Struct({ runId: Schema.String, start: Schema.Int, outputKey: Schema.String, spectra: Schema.Int, deferred: Schema.Int }),
  output: Schema.Struct({ applied: Schema.Boolean, runSettled: Schema.Boolean }),
  run: (input) =>
    Effect.gen(function* () {
      const table = yield* RunTable
      const { applied, run } = yield* table.completeChunk(input.runId, input.start, input)
      return { applied, runSettled: isSettled(run) }
    })
})

const enqueueSlowStep = Step.make({
  name: "enqueue-slow",
  input: SlowTask,
  output: Schema.Struct({ sent: Schema.Int }),
  run: (task) =>
    Effect.gen(function* () {
      const queue = yield* WorkQueue
      yield* queue.send("slow", [JSON.stringify(Schema.encodeSync(SlowTask)(task))])
      return { sent: task.deferred.length }
    })
})

/**
 * @since 0.1.0
 * @category stages
 */
export const fit = Stage.make({
  name: "fit",
  input: FitTask,
  output: FitOutput,
  run: (task) =>
    Effect.gen(function* () {
      const fitted = yield* Step.run(fitChunkStep, task)
      const done = yield* Step.run(completeStep, {
        runId: task.runId,
        start: task.start,
        outputKey: task.outputKey,
        spectra: fitted.rows,
        deferred: fitted.deferred.length
      })
      if (fitted.deferred.length > 0) yield* Step.run(enqueueSlowStep, { ...task, deferred: fitted.deferred })
      return { start: task.start, rows: fitted.rows, deferred: fitted.deferred, runSettled: done.runSettled }
    })
})
