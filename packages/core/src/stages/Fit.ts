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
import { releaseWhole } from "../internal/release.js"
import { Fitter, type Decomposition } from "../Fitter.js"
import { fitParams } from "../Params.js"
import { RESULT_COLUMNS } from "../ResultSchema.js"
import * as ResultParquet from "../ResultParquet.js"
import * as RowBatch from "../RowBatch.js"
import { isSettled, RunTable } from "../RunTable.js"
import * as Stage from "../Stage.js"
import * as Step from "../Step.js"
import { WorkQueue } from "../WorkQueue.js"
import { type CubeWorld, cubeWorld, worldPoint } from "../wcs/WorldColumns.js"
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
    const length = task.count * task.nChannels
    // A view where the bytes are aligned (no copy: the fitter copies the spectra itself).
    return bytes.byteOffset % 4 === 0 && bytes.buffer instanceof ArrayBuffer && bytes.byteLength >= length * 4
      ? new Float32Array(bytes.buffer, bytes.byteOffset, length)
      : new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + length * 4))
  })

/**
 * The result rows of a chunk's fitted spectra, straight into columns (`RowBatch`) without a
 * row object: the one place a result row is made of a decomposition (the fit, the slow fit
 * and recovery all write their rows with it). `results[i]` is the spectrum at chunk offset
 * `chunkOffsets[i]` (default: `i`, the whole chunk in order). A deferred spectrum (`timeout`) has
 * `n_components = -1`, no components and null quality; the world columns come from `world`.
 *
 * @since 0.4.0
 * @category constructors
 */
export const chunkBatch = (
  task: FitTask,
  results: ReadonlyArray<Decomposition>,
  world: CubeWorld,
  chunkOffsets?: ReadonlyArray<number>
): RowBatch.RowBatch => {
  const n = results.length
  if (chunkOffsets !== undefined && chunkOffsets.length !== n) throw new Error(`${n} results for ${chunkOffsets.length} offsets`)
  let total = 0
  for (const d of results) if (d.status !== "timeout") total += d.components.length
  const number = () => ({ kind: "number" as const, values: new Float64Array(n), nulls: new Uint8Array(n) })
  const offsets = new Int32Array(n + 1)
  // The lists of a row share their offsets; a null list is empty.
  const list = (isNull: boolean) =>
    isNull
      ? { kind: "list" as const, offsets: new Int32Array(n + 1), values: new Float64Array(0), nulls: new Uint8Array(n).fill(1) }
      : { kind: "list" as const, offsets, values: new Float64Array(total), nulls: new Uint8Array(n) }
  const point = worldPoint(world)
  const [x, y, beta, rms, minPersistence, nComponents, nanChannels, residualRms, chi2, aicc, lon, lat] = Array.from({ length: 12 }, number)
  const [amplitudes, means, stddevs, amplitudeErrors, meanErrors, stddevErrors] = Array.from({ length: 6 }, () => list(false))
  const [velocities, dispersions, intensities] = Array.from({ length: 3 }, () => list(!point.hasVelocity))
  const set = (c: { values: Float64Array; nulls: Uint8Array }, i: number, v: number | null) => {
    if (v === null) {
      c.values[i] = Number.NaN
      c.nulls[i] = 1
    } else c.values[i] = v
  }
  const out = new Float64Array(3)
  let at = 0
  for (let i = 0; i < n; i++) {
    const d = results[i]
    const pixel = task.start + (chunkOffsets === undefined ? i : chunkOffsets[i])
    const deferred = d.status === "timeout"
    const px = pixel % task.nx
    const py = Math.floor(pixel / task.nx)
    x.values[i] = px
    y.values[i] = py
    beta.values[i] = task.params.beta
    set(rms, i, d.rms !== null && Number.isFinite(d.rms) ? d.rms : null)
    set(minPersistence, i, Number.isFinite(d.minPersistence) ? d.minPersistence : null)
    nComponents.values[i] = deferred ? -1 : d.components.length
    nanChannels.values[i] = d.nanChannels
    set(residualRms, i, deferred ? null : d.residualRms)
    set(chi2, i, deferred ? null : d.chi2Reduced)
    set(aicc, i, deferred ? null : d.aicc)
    const sky = point.moveTo(px, py)
    set(lon, i, sky === undefined ? null : sky.lon)
    set(lat, i, sky === undefined ? null : sky.lat)
    if (!deferred) {
      const { components, componentErrors } = d
      if (componentErrors.length !== components.length) throw new Error(`${components.length} components with ${componentErrors.length} errors`)
      for (let k = 0; k < components.length; k++, at++) {
        const c = components[k]
        const e = componentErrors[k]
        amplitudes.values[at] = c.amplitude
        means.values[at] = c.mean
        stddevs.values[at] = c.stddev
        amplitudeErrors.values[at] = e.amplitude
        meanErrors.values[at] = e.mean
        stddevErrors.values[at] = e.stddev
        if (point.hasVelocity) {
          point.component(c.amplitude, c.mean, c.stddev, out)
          velocities.values[at] = out[0]
          dispersions.values[at] = out[1]
          intensities.values[at] = out[2]
        }
      }
    }
    offsets[i + 1] = at
  }
  const strings = (v: string | null) => ({ kind: "string" as const, values: new Array<string | null>(n).fill(v) })
  const byName: Record<string, RowBatch.Column> = {
    x, y, beta, rms, min_persistence: minPersistence, n_components: nComponents,
    component_amplitudes: amplitudes, component_means: means, component_stddevs: stddevs,
    nan_channels: nanChannels, residual_rms: residualRms, chi2_reduced: chi2, aicc,
    component_amplitude_errors: amplitudeErrors, component_mean_errors: meanErrors, component_stddev_errors: stddevErrors,
    run_id: strings(task.runId), cube: strings(world.cube), lon, lat,
    component_velocities: velocities, component_velocity_dispersions: dispersions, component_integrated_intensities: intensities,
    refit: strings(null)
  }
  return { rows: n, columns: RESULT_COLUMNS.map((c) => byName[c.name]) }
}

/**
 * A whole chunk's result file: `chunkBatch` of its results encoded, the columns freed at once.
 *
 * @since 0.4.0
 * @category constructors
 */
export const encodeChunk = (task: FitTask, results: ReadonlyArray<Decomposition>, world: CubeWorld): Uint8Array => {
  const batch = chunkBatch(task, results, world)
  const bytes = ResultParquet.encodeBatch(batch)
  RowBatch.release(batch)
  return bytes
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
      // The payload, the results and the columns live only inside this callback, so they are
      // garbage before the put's write and fsync: chunks in flight hold only their bytes.
      const fitted = yield* Effect.flatMap(readPayload(task), (spectra) =>
        Effect.map(
          fitter.decomposeBatch(spectra, task.nChannels, fitParams(task.params), {
            timeoutMs: task.params.timeout_ms,
            ...(Option.isSome(startBefore) ? { startBefore: startBefore.value } : {})
          }),
          (results) => {
            // The fitter has copied the spectra; the payload, then the columns, are freed at once.
            releaseWhole([spectra])
            return { bytes: encodeChunk(task, results, world), rows: results.length, deferred: results.flatMap((d, i) => (d.status === "timeout" ? [i] : [])) }
          }
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
