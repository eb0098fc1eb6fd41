import { describe, expect, it } from "@effect/vitest"
import { BlobStore, Fitter, Keys, Pipeline, ResultParquet, type ResultSchema } from "@phs/core"
import { DriverLock, LocalRun, RuntimeLocal } from "@phs/runtime-local"
import { Effect, Layer } from "effect"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { tempDir } from "../../../../test/support/cli.js"
import { refitStages } from "../../src/refit/index.js"

const sample = fileURLToPath(new URL("../../../../examples/grs-5x5.fits", import.meta.url))
const runtime = (workdir: string) => Layer.mergeAll(RuntimeLocal.layer({ workdir }), DriverLock.layer({ workdir }), Fitter.layerNative())
// every pass, each its own fan-out stage
const pipeline = refitStages.reduce(Pipeline.withStage, Pipeline.standard)

const published = (survey: string, runId: string) =>
  Effect.gen(function* () {
    const store = yield* BlobStore.BlobStore
    const rows: Array<ResultSchema.DecompositionRow> = []
    for (const key of yield* store.list(Keys.runParts(survey, runId))) rows.push(...(yield* ResultParquet.decodeRows(yield* store.get(key))))
    return rows.sort((a, b) => a.y - b.y || a.x - b.x).map(({ run_id: _, ...r }) => r)
  })

describe("refitStage (fan-out)", () => {
  it.live("publishes the same refitted table whatever the chunk size, with decoded chunk files kept or not", () =>
    Effect.gen(function* () {
      const tables = []
      // a few decoded files kept, fewer than a pass reads: some found, some decoded again
      const kept = Layer.succeed(Pipeline.DecodedFiles, Pipeline.makeDecodedFiles(3))
      for (const [chunkSize, files] of [[4, Layer.empty], [25, Layer.empty], [4, kept]] as const) {
        const workdir = path.join(tempDir(), `w${tables.length}`)
        const rows = yield* Effect.gen(function* () {
          const run = yield* LocalRun.run(pipeline, { cube: sample, survey: "grs", chunkSize }, { pollMs: 10, concurrency: 2 })
          expect(run.status).toBe("COMPLETED")
          return yield* published("grs", run.runId)
        }).pipe(Effect.provide(Layer.merge(runtime(workdir), files)))
        expect(rows).toHaveLength(25)
        tables.push(rows)
      }
      expect(tables[0]).toStrictEqual(tables[1])
      expect(tables[2]).toStrictEqual(tables[0])
      // and it is not the fit's table
      const fit = yield* Effect.gen(function* () {
        const run = yield* LocalRun.run(Pipeline.standard, { cube: sample, survey: "grs", chunkSize: 25 }, { pollMs: 10, concurrency: 1 })
        return yield* published("grs", run.runId)
      }).pipe(Effect.provide(runtime(path.join(tempDir(), "fit"))))
      const changed = fit.filter((r, i) => r.n_components !== tables[0][i].n_components || r.aicc !== tables[0][i].aicc)
      expect(changed.length).toBeGreaterThan(0)
      const solution = (r: ResultSchema.DecompositionRow) => JSON.stringify([r.component_amplitudes, r.component_means, r.component_stddevs])
      // the refit column says exactly which spectra the passes changed
      expect(tables[0].map((r) => r.refit !== null)).toStrictEqual(fit.map((r, i) => solution(r) !== solution(tables[0][i])))
    }))
})
