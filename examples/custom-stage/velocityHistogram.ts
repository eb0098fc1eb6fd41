/**
 * A custom stage, composed from durable steps like the built-in ones and appended to the
 * standard pipeline: after catalog publishes a run, count its components per velocity
 * (channel) bin and write `runs/{run}/velocity_histogram.json`.
 *
 * Run it on the bundled sample:  node examples/custom-stage/run.mjs   (after npm run build)
 */
import { BlobStore, Keys, Pipeline, ResultParquet, Stage, Step, Tasks } from "@phs/core"
import { Effect, Schema } from "effect"

/** Channels per histogram bin. */
export const BIN_CHANNELS = 16

const Histogram = Schema.Struct({
  runId: Schema.String,
  binChannels: Schema.Int,
  counts: Schema.Array(Schema.Int),
  components: Schema.Int
})

/** One step: read the run's published parts and bin every component's mean. */
const histogramStep = Step.make({
  name: "velocity-histogram",
  input: Schema.Struct({ runId: Schema.String, survey: Schema.String }),
  output: Histogram,
  run: ({ runId, survey }) =>
    Effect.gen(function* () {
      const store = yield* BlobStore.BlobStore
      const counts: number[] = []
      let components = 0
      for (const key of yield* store.list(`${Keys.surveyPartition(survey)}${runId}-`)) {
        for (const row of yield* ResultParquet.decodeRows(yield* store.get(key))) {
          for (const mean of row.component_means) {
            const bin = Math.floor(mean / BIN_CHANNELS)
            while (counts.length <= bin) counts.push(0)
            counts[bin]++
            components++
          }
        }
      }
      const histogram = { runId, binChannels: BIN_CHANNELS, counts, components }
      yield* store.put(Keys.runMeta(runId, "velocity_histogram.json"), new TextEncoder().encode(JSON.stringify(histogram)))
      return histogram
    })
})

/** The stage: the survey comes from the run's id (`{survey}-{hash}`). */
export const velocityHistogram: Pipeline.RunStage = Stage.make({
  name: "velocity-histogram",
  input: Tasks.RunRef,
  output: Histogram,
  run: ({ runId }) => Step.run(histogramStep, { runId, survey: runId.slice(0, runId.lastIndexOf("-")) })
})

/** split → fit → slow-fit → catalog → velocity-histogram. */
export const pipeline: Pipeline.Pipeline = Pipeline.withStage(Pipeline.standard, velocityHistogram)
