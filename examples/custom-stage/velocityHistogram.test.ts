import { describe, expect, it } from "@effect/vitest"
import { BlobStore, Fitter, Journal, Pipeline, ResultParquet } from "@phs/core"
import { DriverLock, LocalRun, RuntimeLocal } from "@phs/runtime-local"
import { Effect, Layer } from "effect"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { tempDir } from "../../test/support/cli.js"
import { BIN_CHANNELS, pipeline, velocityHistogram } from "./velocityHistogram.js"

const sample = fileURLToPath(new URL("../grs-5x5.fits", import.meta.url))

describe("a custom stage plugged into the pipeline", () => {
  it.live("runs after catalog, journals its step, and its result matches the table", () =>
    Effect.gen(function* () {
      const run = yield* LocalRun.run(pipeline, { cube: sample, survey: "grs" }, { pollMs: 10 })
      expect(run.status).toBe("COMPLETED")
      const store = yield* BlobStore.BlobStore
      const histogram = JSON.parse(new TextDecoder().decode(yield* store.get(`runs/${run.runId}/velocity_histogram.json`)))
      const rows = []
      for (const key of yield* store.list(`decompositions/survey=grs/${run.runId}-`)) rows.push(...(yield* ResultParquet.decodeRows(yield* store.get(key))))
      const means = rows.flatMap((r) => r.component_means)
      expect(histogram.components).toBe(means.length)
      expect(means.length).toBeGreaterThan(25)
      for (let b = 0; b < histogram.counts.length; b++)
        expect(histogram.counts[b]).toBe(means.filter((m) => Math.floor(m / BIN_CHANNELS) === b).length)
      const steps = (yield* Effect.flatMap(Journal.Journal, (j) => j.entries(run.runId))).filter((e) => e.stage === velocityHistogram.name)
      expect(steps.map((e) => e.step)).toEqual(["velocity-histogram"])
      // the custom stage is part of the run's record: replay covers it too
      const replayed = yield* Pipeline.replay(pipeline, run.runId)
      expect(replayed.steps).toBeGreaterThan(steps.length)
    }).pipe(
      Effect.provide(
        Effect.sync(() => path.join(tempDir(), "w")).pipe(
          Effect.map((workdir) => Layer.mergeAll(RuntimeLocal.layer({ workdir }), DriverLock.layer({ workdir }), Fitter.layerNative())),
          Layer.unwrapEffect
        )
      )
    )
  )

  it("refuses a second stage of the same name", () => {
    expect(() => Pipeline.withStage(pipeline, velocityHistogram)).toThrow(/already/)
  })
})
