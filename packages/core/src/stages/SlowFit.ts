/**
 * slow-fit: refit a chunk's deferred spectra with no per-spectrum budget and replace the
 * chunk's Parquet file atomically, then settle the chunk's slow work in the run table.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { BlobStore } from "../BlobStore.js"
import { Fitter } from "../Fitter.js"
import { fitParams } from "../Params.js"
import * as ResultParquet from "../ResultParquet.js"
import { isSettled, RunTable } from "../RunTable.js"
import * as Stage from "../Stage.js"
import * as Step from "../Step.js"
import { cubeWorld } from "../wcs/WorldColumns.js"
import { readPayload, toRow } from "./Fit.js"
import { SlowOutput, SlowTask } from "./Tasks.js"

const refitStep = Step.make({
  name: "refit-deferred",
  input: SlowTask,
  output: Schema.Struct({ refitted: Schema.Int }),
  run: (task) =>
    Effect.gen(function* () {
      const store = yield* BlobStore
      const fitter = yield* Fitter
      const spectra = yield* readPayload(task)
      const n = task.nChannels
      const picked = new Float32Array(task.deferred.length * n)
      task.deferred.forEach((offset, i) => picked.set(spectra.subarray(offset * n, (offset + 1) * n), i * n))
      const results = yield* fitter.decomposeBatch(picked, n, fitParams(task.params), { timeoutMs: 0 })
      const world = yield* cubeWorld(task.runId)
      const rows = [...(yield* ResultParquet.decodeRows(yield* store.get(task.outputKey)))]
      task.deferred.forEach((offset, i) => {
        rows[offset] = toRow(task, offset, results[i], world)
      })
      yield* store.put(task.outputKey, ResultParquet.encodeRows(rows))
      return { refitted: task.deferred.length }
    })
})

const settleStep = Step.make({
  name: "settle-slow",
  input: Schema.Struct({ runId: Schema.String, start: Schema.Int }),
  output: Schema.Struct({ applied: Schema.Boolean, runSettled: Schema.Boolean }),
  run: ({ runId, start }) =>
    Effect.gen(function* () {
      const table = yield* RunTable
      const { applied, run } = yield* table.settleSlow(runId, start)
      return { applied, runSettled: isSettled(run) }
    })
})

/**
 * @since 0.1.0
 * @category stages
 */
export const slowFit = Stage.make({
  name: "slow-fit",
  input: SlowTask,
  output: SlowOutput,
  run: (task) =>
    Effect.gen(function* () {
      const { refitted } = yield* Step.run(refitStep, task)
      const { runSettled } = yield* Step.run(settleStep, { runId: task.runId, start: task.start })
      return { start: task.start, refitted, runSettled }
    })
})
