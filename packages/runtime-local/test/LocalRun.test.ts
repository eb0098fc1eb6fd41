/**
 * LocalRun.pipelineOf: a run's pipeline from the refit mode its record carries, the manifest
 * read only for a record without one (a plain run, or one recorded before the field).
 */
import { describe, expect, it } from "@effect/vitest"
import { BlobStore, Keys, Pipeline } from "@phs/core"
import { Effect } from "effect"
import { LocalRun } from "../src/index.js"

const manifest = (refit?: string) =>
  new TextEncoder().encode(JSON.stringify({ cube_key: "cubes/grs.fits", survey: "grs", params: {}, ...(refit === undefined ? {} : { refit }) }))

describe("LocalRun.pipelineOf", () => {
  it.effect("the record's refit mode wins over the manifest's; a record without one falls back to the manifest, then to none", () =>
    Effect.gen(function* () {
      const store = yield* BlobStore.BlobStore
      const spatial = Pipeline.pipelineFor("spatial")
      expect(spatial).not.toBe(Pipeline.standard)
      yield* store.put(Keys.manifest("run-a"), manifest())
      expect(yield* LocalRun.pipelineOf({ runId: "run-a", refit: "spatial" })).toBe(spatial)
      yield* store.put(Keys.manifest("run-old"), manifest("spatial"))
      expect(yield* LocalRun.pipelineOf({ runId: "run-old" })).toBe(spatial)
      expect(yield* LocalRun.pipelineOf({ runId: "run-plain" })).toBe(Pipeline.standard)
    }).pipe(Effect.provide(BlobStore.layerMemory)))
})
