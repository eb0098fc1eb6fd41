/**
 * The cube's file name (manifest `cube_name`, run record `cubeName`): for people only. It is
 * checked to print on one line, is not part of the run id, is recorded by the split, and a
 * split resumed under another name keeps the one it was registered with.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { cubeFits } from "../../../test/support/cubes.js"
import * as BlobStore from "../src/BlobStore.js"
import * as Catalog from "../src/Catalog.js"
import * as Fitter from "../src/Fitter.js"
import * as Journal from "../src/Journal.js"
import * as Params from "../src/Params.js"
import * as Pipeline from "../src/Pipeline.js"
import * as RunTable from "../src/RunTable.js"
import * as WorkQueue from "../src/WorkQueue.js"

const services = () =>
  Layer.mergeAll(BlobStore.layerMemory, WorkQueue.layerMemory, RunTable.layerMemory, Journal.layerMemory, Catalog.layerMemory, Fitter.layerNative({ threads: 1 }))

const manifest = { cube_key: "cubes/t.fits", survey: "t", chunk_size: 5 }

const getRun = (runId: string) => Effect.map(Effect.flatMap(RunTable.RunTable, (t) => t.getRun(runId)), Option.getOrThrow)

describe("a run's cube file name", () => {
  it.effect("a manifest's cube_name is a one-line file name", () =>
    Effect.gen(function* () {
      expect((yield* Params.decodeManifest({ ...manifest, cube_name: "grs tile (l=15).fits" })).cube_name).toBe("grs tile (l=15).fits")
      expect((yield* Params.decodeManifest(manifest)).cube_name).toBeUndefined()
      for (const bad of ["", "dir/t.fits", "t\n.fits", "x".repeat(256)]) {
        const e = yield* Effect.flip(Params.decodeManifest({ ...manifest, cube_name: bad }))
        expect(e.reason, JSON.stringify(bad)).toContain("cube_name")
      }
    }))

  it.effect("is recorded by the split, leaves the run id as it was, and a resumed split keeps the name it registered", () =>
    Effect.gen(function* () {
      yield* Effect.flatMap(BlobStore.BlobStore, (b) => b.put("cubes/t.fits", cubeFits({ nx: 4, ny: 3, seed: 5 })))
      const plain = yield* Pipeline.prepare(manifest)
      const named = yield* Pipeline.prepare({ ...manifest, cube_name: "first.fits" })
      expect(named.runId).toBe(plain.runId)
      expect("cubeName" in plain).toBe(false)
      yield* Pipeline.start(Pipeline.standard, named)
      const run = yield* getRun(named.runId)
      expect(run.cubeName).toBe("first.fits")
      expect(RunTable.cubeNameOf(run)).toBe("first.fits")
      expect(Pipeline.splitInputOf(run)).toEqual(named)

      // the same cube again under another name, its split not finished: the journal's name stands
      yield* Effect.flatMap(RunTable.RunTable, (t) => t.transition(run.runId, ["RUNNING"], "SPLITTING"))
      const again = yield* Pipeline.prepare({ ...manifest, cube_name: "second.fits" })
      const registered = (entries: ReadonlyArray<Journal.JournalEntry>) => entries.filter((e) => e.step === "register-run")
      const before = yield* Effect.flatMap(Journal.Journal, (j) => j.entries(run.runId))
      yield* Pipeline.start(Pipeline.standard, again)
      expect((yield* getRun(run.runId)).cubeName).toBe("first.fits")
      // the journal answered the register step: no second record of it under another input
      const after = yield* Effect.flatMap(Journal.Journal, (j) => j.entries(run.runId))
      expect(registered(after)).toEqual(registered(before))
      expect(after.length).toBe(before.length)
    }).pipe(Effect.provide(services())))
})
