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
import * as ResultColumns from "../ResultColumns.js"
import * as ResultParquet from "../ResultParquet.js"
import * as RowBatch from "../RowBatch.js"
import { isSettled, RunTable } from "../RunTable.js"
import * as Stage from "../Stage.js"
import * as Step from "../Step.js"
import { cubeWorld } from "../wcs/WorldColumns.js"
import { chunkBatch, readPayload } from "./Fit.js"
import { SlowOutput, SlowTask } from "./Tasks.js"

/**
 * The chunk's rows with the row at each offset `replaced` has taken from `fresh` (the row
 * `replaced.get(offset)` of it): runs of `base` between them copied as they are.
 */
const replaceRows = (base: RowBatch.RowBatch, fresh: RowBatch.RowBatch, replaced: ReadonlyMap<number, number>): RowBatch.RowBatch => {
  const out = RowBatch.builder(base.rows)
  let from = 0
  for (let offset = 0; offset < base.rows; offset++) {
    const i = replaced.get(offset)
    if (i === undefined) continue
    out.append(base, from, offset)
    out.append(fresh, i, i + 1)
    from = offset + 1
  }
  out.append(base, from, base.rows)
  return out.batch()
}

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
      const base = yield* ResultColumns.decodeBatch(yield* store.get(task.outputKey))
      const outside = task.deferred.find((offset) => offset >= base.rows)
      if (outside !== undefined) return yield* Effect.dieMessage(`deferred offset ${outside} outside the chunk's ${base.rows} rows`)
      const fresh = chunkBatch(task, results, world, task.deferred)
      yield* store.put(task.outputKey, ResultParquet.encodeBatch(replaceRows(base, fresh, new Map(task.deferred.map((offset, i) => [offset, i])))))
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
