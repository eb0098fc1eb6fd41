/**
 * The refit mode in the run id (Params.runId): hashed only when it is not `none`, so the ids
 * of plain runs are those they had before `--refit` existed; and in the run record, from
 * which a run's pipeline is composed again (`Pipeline.pipelineOfRun`, what the aws handlers do).
 */
import { Effect, Layer, Option } from "effect"
import { describe, expect, it } from "@effect/vitest"
import { cubeFits } from "../../../test/support/cubes.js"
import * as BlobStore from "../src/BlobStore.js"
import * as Catalog from "../src/Catalog.js"
import * as Fitter from "../src/Fitter.js"
import * as Journal from "../src/Journal.js"
import * as Params from "../src/Params.js"
import * as Pipeline from "../src/Pipeline.js"
import * as RunTable from "../src/RunTable.js"
import * as WorkQueue from "../src/WorkQueue.js"
import { hashValue } from "../src/internal/canonical.js"

const services = () =>
  Layer.mergeAll(BlobStore.layerMemory, WorkQueue.layerMemory, RunTable.layerMemory, Journal.layerMemory, Catalog.layerMemory, Fitter.layerNative({ threads: 1 }))

describe("Params.runId and the refit mode", () => {
  it.effect("none (or absent) keeps the plain id; spatial is another run", () =>
    Effect.gen(function* () {
      const base = { cubeSha256: "ab".repeat(32), survey: "grs", params: yield* Params.resolve({}), chunkSize: 500, codeVersion: "phs-x+fit-y" }
      // the id as it was computed before the refit mode existed
      const before = `grs-${hashValue(base).slice(0, 16)}`
      expect(Params.runId(base)).toBe(before)
      expect(Params.runId({ ...base, refit: "none" })).toBe(before)
      const spatial = Params.runId({ ...base, refit: "spatial" })
      expect(spatial).not.toBe(before)
      expect(spatial).toMatch(/^grs-[0-9a-f]{16}$/)
      // the HDU likewise: hashed only when named (prepare drops it when it is the default one)
      expect(Params.runId({ ...base, hdu: undefined })).toBe(before)
      expect(Params.runId({ ...base, hdu: 2 })).not.toBe(before)
      expect(Params.runId({ ...base, hdu: 2, refit: "spatial" })).not.toBe(spatial)
    }))

  it.effect("a manifest without refit decodes as none; an unknown mode is refused", () =>
    Effect.gen(function* () {
      const m = { cube_key: "cubes/grs-abc.fits", survey: "grs" }
      expect((yield* Params.decodeManifest(m)).refit).toBe("none")
      expect((yield* Params.decodeManifest({ ...m, refit: "spatial" })).refit).toBe("spatial")
      const bad = yield* Effect.flip(Params.decodeManifest({ ...m, refit: "bogus" }))
      expect(bad.reason).toContain("refit")
    }))

  it.effect("the split records the refit mode in the run; its pipeline is composed again from the record", () =>
    Effect.gen(function* () {
      yield* Effect.flatMap(BlobStore.BlobStore, (b) => b.put("cubes/t.fits", cubeFits({ nx: 4, ny: 3, seed: 5 })))
      const manifest = { cube_key: "cubes/t.fits", survey: "t", chunk_size: 5 }
      const runOf = (m: unknown) =>
        Effect.gen(function* () {
          const input = yield* Pipeline.prepare(m)
          yield* Pipeline.start(Pipeline.pipelineFor(input.refit ?? "none"), input)
          const run = Option.getOrThrow(yield* Effect.flatMap(RunTable.RunTable, (t) => t.getRun(input.runId)))
          return { input, run }
        })
      const refit = yield* runOf({ ...manifest, refit: "spatial" })
      expect(refit.input.refit).toBe("spatial")
      expect(refit.run.refit).toBe("spatial")
      expect(Pipeline.splitInputOf(refit.run)).toEqual(refit.input)
      expect(Pipeline.pipelineOfRun(refit.run)).toBe(Pipeline.pipelineFor("spatial"))
      expect(Pipeline.pipelineOfRun(refit.run).fanOut.map((s) => s.name)).toEqual(["refit", "refit-2", "refit-3"])
      // a plain run (refit absent or "none") records nothing: its split input is the one from before --refit
      for (const m of [manifest, { ...manifest, refit: "none" }]) {
        const plain = yield* runOf(m)
        expect("refit" in plain.input).toBe(false)
        expect(plain.run.refit).toBeUndefined()
        expect(Pipeline.pipelineOfRun(plain.run)).toBe(Pipeline.standard)
        expect(plain.run.runId).not.toBe(refit.run.runId)
      }
    }).pipe(Effect.provide(services())))
})
