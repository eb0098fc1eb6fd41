import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Option, Schema } from "effect"
import { createHash } from "node:crypto"
import { cubeFits } from "../../../test/support/cubes.js"
import * as BlobStore from "../src/BlobStore.js"
import * as Catalog from "../src/Catalog.js"
import { FitError } from "../src/Errors.js"
import * as Fitter from "../src/Fitter.js"
import * as Journal from "../src/Journal.js"
import * as Keys from "../src/Keys.js"
import * as Pipeline from "../src/Pipeline.js"
import * as ResultParquet from "../src/ResultParquet.js"
import * as RunTable from "../src/RunTable.js"
import * as Stage from "../src/Stage.js"
import * as Step from "../src/Step.js"
import { RunRef } from "../src/stages/Tasks.js"
import * as WorkQueue from "../src/WorkQueue.js"

const memory = Layer.mergeAll(BlobStore.layerMemory, WorkQueue.layerMemory, RunTable.layerMemory, Journal.layerMemory, Catalog.layerMemory)
const services = () => Layer.merge(memory, Fitter.layerNative({ threads: 2 }))

/** The native fitter, except that under a budget every other spectrum is "too slow". */
const slowEveryOther = Layer.sync(Fitter.Fitter, () => {
  const native = Fitter.makeNative({ threads: 1 })
  return {
    version: native.version,
    decomposeBatch: (spectra, n, params, options) =>
      Effect.map(native.decomposeBatch(spectra, n, params, options), (results) =>
        options.timeoutMs > 0 ? results.map((d, i) => (i % 2 === 0 ? { ...d, status: "timeout" as const, components: [] } : d)) : results
      )
  }
})

const putCube = (key: string, bytes: Uint8Array) => Effect.flatMap(BlobStore.BlobStore, (s) => s.put(key, bytes))

const runCube = (opts: { nx: number; ny: number; chunk: number; blankPixels?: number[] }, pipeline = Pipeline.standard) =>
  Effect.gen(function* () {
    yield* putCube("cubes/t.fits", cubeFits({ nx: opts.nx, ny: opts.ny, seed: 7, blankPixels: opts.blankPixels }))
    const input = yield* Pipeline.prepare({ cube_key: "cubes/t.fits", survey: "test", chunk_size: opts.chunk, params: { beta: 3.5 } })
    yield* Pipeline.start(pipeline, input)
    const run = yield* Pipeline.drive(pipeline, input.runId, { pollMs: 5 })
    return { input, run }
  })

const tableRows = (survey: string) =>
  Effect.gen(function* () {
    const store = yield* BlobStore.BlobStore
    const rows = []
    for (const key of yield* store.list(`decompositions/survey=${survey}/`)) rows.push(...(yield* ResultParquet.decodeRows(yield* store.get(key))))
    return rows
  })

describe("Pipeline on memory services", () => {
  it.live("decomposes every spectrum exactly once and publishes the survey partition", () =>
    Effect.gen(function* () {
      const { run } = yield* runCube({ nx: 7, ny: 5, chunk: 8, blankPixels: [3] })
      expect(run.status).toBe("COMPLETED")
      expect(run.jobsTotal).toBe(5)
      expect(run.jobsCompleted).toBe(5)
      expect(run.spectraDone).toBe(35)
      const rows = yield* tableRows("test")
      expect(rows.length).toBe(35)
      expect(new Set(rows.map((r) => `${r.x},${r.y}`)).size).toBe(35)
      const blank = rows.find((r) => r.x === 3 && r.y === 0)!
      expect(blank.rms).toBeNull()
      expect(blank.n_components).toBe(0)
      const lit = rows.filter((r) => r.rms !== null)
      expect(lit.every((r) => r.n_components >= 1 && r.component_means.length === r.n_components)).toBe(true)
      const parts = yield* Effect.flatMap(Catalog.Catalog, (c) => c.partitions("phspectra", "decompositions"))
      expect(parts.map((p) => p.values.survey)).toEqual(["test"])
    }).pipe(Effect.provide(services()))
  )

  it.live("catalog writes _stage_config.json and _validation.json that describe the run", () =>
    Effect.gen(function* () {
      const { input, run } = yield* runCube({ nx: 6, ny: 4, chunk: 10, blankPixels: [0, 5] })
      const store = yield* BlobStore.BlobStore
      const read = (name: string) => Effect.map(store.get(`runs/${run.runId}/${name}`), (b) => JSON.parse(new TextDecoder().decode(b)))
      const config = yield* read("_stage_config.json")
      expect(config).toMatchObject({
        run_id: run.runId,
        survey: "test",
        cube_key: "cubes/t.fits",
        params: { ...input.params },
        code_version: input.codeVersion,
        counts: { spectra: 24, chunks: 3, rows: 24, parts: 1 },
        stages: { split: { chunks: 3, chunk_size: 10 }, fit: { chunks_completed: 3, chunks_failed: 0 }, catalog: { parts: 1, rows: 24 } }
      })
      expect(Date.parse(config.stages.fit.finished_at)).toBeGreaterThanOrEqual(Date.parse(config.stages.fit.started_at))
      const validation = yield* read("_validation.json")
      expect(validation).toMatchObject({ valid: true, problems: [], spectra_in_cube: 24, rows: 24, duplicates: 0, deferredLeft: 0, blank: 2 })
      expect(validation.nullCounts.rms).toBe(2)
      const histogram = validation.componentHistogram as Record<string, number>
      expect(Object.values(histogram).reduce((a, b) => a + b, 0)).toBe(24)
      expect(histogram["0"]).toBeGreaterThanOrEqual(2)
      expect(validation.rms.min).toBeLessThanOrEqual(validation.rms.median)
      expect(validation.rms.median).toBeLessThanOrEqual(validation.rms.max)
    }).pipe(Effect.provide(services()))
  )

  it.live("the git revision comes from the settings (PHS_GIT_REVISION), resolved outside the journaled step", () =>
    Effect.gen(function* () {
      const { run } = yield* runCube({ nx: 4, ny: 2, chunk: 4 }).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["PHS_GIT_REVISION", "abc1234"]])))
      )
      const store = yield* BlobStore.BlobStore
      const config = JSON.parse(new TextDecoder().decode(yield* store.get(`runs/${run.runId}/_stage_config.json`)))
      expect(config.git_revision).toBe("abc1234")
    }).pipe(Effect.provide(services()))
  )

  it.live("starting the same run again returns it without new rows", () =>
    Effect.gen(function* () {
      const first = yield* runCube({ nx: 4, ny: 3, chunk: 5 })
      const again = yield* runCube({ nx: 4, ny: 3, chunk: 5 })
      expect(again.input.runId).toBe(first.input.runId)
      expect((yield* tableRows("test")).length).toBe(12)
    }).pipe(Effect.provide(services()))
  )

  it.live("a different parameter gives a different run id", () =>
    Effect.gen(function* () {
      yield* putCube("cubes/t.fits", cubeFits({ nx: 2, ny: 2 }))
      const a = yield* Pipeline.prepare({ cube_key: "cubes/t.fits", survey: "test", params: { beta: 3.5 } })
      const b = yield* Pipeline.prepare({ cube_key: "cubes/t.fits", survey: "test", params: { beta: 4 } })
      expect(a.runId).not.toBe(b.runId)
    }).pipe(Effect.provide(services()))
  )

  it.live("a known cube hash gives the run id hashing gives, without reading the cube", () =>
    Effect.gen(function* () {
      const bytes = cubeFits({ nx: 2, ny: 2 })
      yield* putCube("cubes/t.fits", bytes)
      const manifest = { cube_key: "cubes/t.fits", survey: "test", params: { beta: 3.5 } }
      const hashed = yield* Pipeline.prepare(manifest)
      const sha = createHash("sha256").update(bytes).digest("hex")
      expect((yield* Pipeline.prepare(manifest, { cubeSha256: sha })).runId).toBe(hashed.runId)
      // the hash given is the one used
      expect((yield* Pipeline.prepare(manifest, { cubeSha256: "0".repeat(64) })).runId).not.toBe(hashed.runId)
    }).pipe(Effect.provide(services()))
  )

  it.live("rejects unknown parameters, listing the valid ones, and creates nothing", () =>
    Effect.gen(function* () {
      yield* putCube("cubes/t.fits", cubeFits({ nx: 2, ny: 2 }))
      const err = yield* Effect.flip(Pipeline.prepare({ cube_key: "cubes/t.fits", survey: "test", params: { betta: 3 } }))
      expect(err._tag).toBe("InvalidInput")
      expect(err.message).toMatch(/betta/)
      expect(err.message).toMatch(/snr_min/)
      expect(yield* Effect.flatMap(RunTable.RunTable, (t) => t.listRuns())).toEqual([])
    }).pipe(Effect.provide(services()))
  )

  it.live("an all-blank cube is refused and leaves no run or payload behind", () =>
    Effect.gen(function* () {
      yield* putCube("cubes/t.fits", cubeFits({ nx: 3, ny: 2, allBlank: true }))
      const input = yield* Pipeline.prepare({ cube_key: "cubes/t.fits", survey: "test" })
      const err = yield* Effect.flip(Pipeline.start(Pipeline.standard, input))
      expect(err._tag).toBe("InvalidInput")
      expect(err.message).toMatch(/blank/)
      expect(yield* Effect.flatMap(RunTable.RunTable, (t) => t.getRun(input.runId))).toEqual(Option.none())
      expect(yield* Effect.flatMap(BlobStore.BlobStore, (s) => s.list("chunks/"))).toEqual([])
    }).pipe(Effect.provide(services()))
  )

  it.live("a redelivered fit message changes nothing already done", () =>
    Effect.gen(function* () {
      const { input, run } = yield* runCube({ nx: 4, ny: 2, chunk: 4 })
      const store = yield* BlobStore.BlobStore
      const before = yield* store.get("chunks/" + input.runId + "/chunk-0000000.parquet")
      const task = { runId: input.runId, survey: "test", start: 0, count: 4, nx: 4, nChannels: 128, params: input.params, payloadKey: `chunks/${input.runId}/chunk-0000000.f32`, outputKey: `chunks/${input.runId}/chunk-0000000.parquet` }
      const handled = yield* Pipeline.handleFit(Pipeline.standard, JSON.stringify(task), 1000)
      expect(handled._tag).toBe("Done")
      const after = yield* Effect.flatMap(RunTable.RunTable, (t) => t.getRun(input.runId))
      expect(Option.getOrThrow(after).jobsCompleted).toBe(run.jobsCompleted)
      expect(Option.getOrThrow(after).spectraDone).toBe(run.spectraDone)
      expect(yield* store.get("chunks/" + input.runId + "/chunk-0000000.parquet")).toEqual(before)
    }).pipe(Effect.provide(services()))
  )

  it.live("spectra over budget are deferred, refitted by slow-fit, and counted once", () =>
    Effect.gen(function* () {
      yield* putCube("cubes/t.fits", cubeFits({ nx: 5, ny: 2, seed: 3 }))
      const input = yield* Pipeline.prepare({ cube_key: "cubes/t.fits", survey: "test", chunk_size: 4 })
      yield* Pipeline.start(Pipeline.standard, input)
      const run = yield* Pipeline.drive(Pipeline.standard, input.runId, { pollMs: 5 })
      expect(run.status).toBe("COMPLETED")
      expect(run.spectraDeferred).toBe(5)
      expect(run.slowPending).toBe(0)
      expect(run.spectraDone).toBe(10)
      const rows = yield* tableRows("test")
      expect(rows.length).toBe(10)
      expect(rows.every((r) => r.n_components >= 1)).toBe(true)
      expect(yield* Effect.flatMap(WorkQueue.WorkQueue, (q) => q.depth("slow"))).toEqual({ visible: 0, inFlight: 0, deadLetters: 0 })
    }).pipe(Effect.provide(Layer.merge(memory, slowEveryOther)))
  )

  it.live("after the slow fit a chunk's file is, byte for byte, the file of a fit without budget", () =>
    Effect.gen(function* () {
      const budgeted = yield* chunkFiles({ nx: 5, ny: 3, chunk: 4 }).pipe(Effect.provide(Layer.merge(memory, slowEveryOther)))
      const unbudgeted = yield* chunkFiles({ nx: 5, ny: 3, chunk: 4 }).pipe(Effect.provide(services()))
      expect(budgeted.run.spectraDeferred).toBe(8)
      expect(unbudgeted.run.spectraDeferred).toBe(0)
      expect(budgeted.run.runId).toBe(unbudgeted.run.runId)
      expect([...budgeted.files.keys()]).toEqual([...unbudgeted.files.keys()])
      expect(budgeted.files.size).toBe(4)
      for (const [key, bytes] of budgeted.files) expect(Buffer.from(bytes).equals(Buffer.from(unbudgeted.files.get(key)!)), key).toBe(true)
    })
  )
})

/** Runs a cube to the end, then reads its chunk result files. */
const chunkFiles = (opts: { nx: number; ny: number; chunk: number }) =>
  Effect.gen(function* () {
    const input = yield* startCube(opts)
    const run = yield* Pipeline.drive(Pipeline.standard, input.runId, { pollMs: 5 })
    const store = yield* BlobStore.BlobStore
    const files = new Map<string, Uint8Array>()
    for (const key of yield* store.list(`chunks/${input.runId}/`)) if (key.endsWith(".parquet")) files.set(key, yield* store.get(key))
    return { run, files }
  })

describe("Replay", () => {
  it.live("a finished run replays identically", () =>
    Effect.gen(function* () {
      const { input } = yield* runCube({ nx: 5, ny: 3, chunk: 4 })
      const report = yield* Pipeline.replay(Pipeline.standard, input.runId)
      const entries = yield* Effect.flatMap(Journal.Journal, (j) => j.entries(input.runId))
      expect(report.steps).toBe(entries.length)
      expect(report.steps).toBeGreaterThan(10)
    }).pipe(Effect.provide(services()))
  )

  it.live("a catalog stage changed to call a different step order fails with NondeterminismError", () =>
    Effect.gen(function* () {
      const { input } = yield* runCube({ nx: 4, ny: 2, chunk: 4 })
      const probe = Step.make({ name: "probe", input: RunRef, output: Schema.Struct({}), run: () => Effect.succeed({}) })
      const changed: Pipeline.Pipeline = {
        ...Pipeline.standard,
        catalog: Stage.make({
          ...Pipeline.standard.catalog,
          run: (i) => Effect.zipRight(Step.run(probe, i), Pipeline.standard.catalog.run(i))
        })
      }
      const err = yield* Effect.flip(Pipeline.replay(changed, input.runId))
      expect(err._tag).toBe("NondeterminismError")
      if (err._tag === "NondeterminismError") {
        expect(err.stage).toBe("catalog")
        expect(err.step).toBe("probe")
        expect(err.seq).toBe(0)
      }
    }).pipe(Effect.provide(services()))
  )

  it.live("a fit stage that stops early fails verification naming the missing step", () =>
    Effect.gen(function* () {
      const { input } = yield* runCube({ nx: 4, ny: 2, chunk: 4 })
      const truncated: Pipeline.Pipeline = {
        ...Pipeline.standard,
        fit: Stage.make({
          ...Pipeline.standard.fit,
          run: (task) => Effect.succeed({ start: task.start, rows: task.count, deferred: [], runSettled: false })
        })
      }
      const err = yield* Effect.flip(Pipeline.replay(truncated, input.runId))
      expect(err._tag).toBe("NondeterminismError")
      if (err._tag === "NondeterminismError") {
        expect(err.stage).toBe("fit")
        expect(err.step).toBe("fit-chunk")
      }
    }).pipe(Effect.provide(services()))
  )
})

/** The native fitter, failing every batch with a fatal error while `broken.on` is set. */
const breakable = (broken: { on: boolean }) =>
  Layer.sync(Fitter.Fitter, () => {
    const native = Fitter.makeNative({ threads: 1 })
    return {
      version: native.version,
      decomposeBatch: (spectra, n, params, options) =>
        broken.on ? Effect.fail(new FitError({ reason: "injected: disk full", retryable: false })) : native.decomposeBatch(spectra, n, params, options)
    }
  })

const startCube = (opts: { nx: number; ny: number; chunk: number }) =>
  Effect.gen(function* () {
    yield* putCube("cubes/t.fits", cubeFits({ nx: opts.nx, ny: opts.ny, seed: 7 }))
    const input = yield* Pipeline.prepare({ cube_key: "cubes/t.fits", survey: "test", chunk_size: opts.chunk, params: { beta: 3.5 } })
    yield* Pipeline.start(Pipeline.standard, input)
    return input
  })

const uniquePixels = (rows: ReadonlyArray<{ x: number; y: number }>) => new Set(rows.map((r) => `${r.x},${r.y}`)).size

describe("Recovery", () => {
  it.live("a chunk failed by a fatal error is dead-lettered, and driving the run again reopens it and completes the run", () => {
    const broken = { on: true }
    return Effect.gen(function* () {
      const input = yield* startCube({ nx: 5, ny: 3, chunk: 4 })
      const failed = yield* Pipeline.drive(Pipeline.standard, input.runId, { pollMs: 5 })
      expect(failed.status).toBe("FAILED")
      expect(failed.jobsFailed).toBe(4)
      const q = yield* WorkQueue.WorkQueue
      const dead = yield* q.deadLetters("fit")
      expect(dead.length).toBe(4)
      expect(dead.every((d) => d.reason.includes("injected: disk full"))).toBe(true)
      broken.on = false
      const resumed = yield* Pipeline.drive(Pipeline.standard, input.runId, { pollMs: 5 })
      expect(resumed.status).toBe("COMPLETED")
      expect(resumed.jobsFailed).toBe(0)
      expect((yield* q.depth("fit")).deadLetters).toBe(0)
      const rows = yield* tableRows("test")
      expect(rows.length).toBe(15)
      expect(uniquePixels(rows)).toBe(15)
    }).pipe(Effect.provide(Layer.merge(memory, breakable(broken))))
  })

  it.live("a FAILED chunk whose message was acknowledged gets a new message on reopen", () =>
    Effect.gen(function* () {
      const input = yield* startCube({ nx: 4, ny: 2, chunk: 4 })
      const q = yield* WorkQueue.WorkQueue
      const table = yield* RunTable.RunTable
      // The messages are gone (acknowledged), the chunks FAILED: nothing to redrive.
      for (const m of yield* q.receive("fit", { max: 10, visibilityMs: 1000 })) yield* q.ack("fit", m.receipt)
      for (const c of yield* table.listChunks(input.runId)) yield* table.failChunk(input.runId, c.start, "queue ack: database or disk is full")
      expect((yield* Pipeline.finishRun(Pipeline.standard, input.runId)).status).toBe("FAILED")
      const reopened = yield* Pipeline.reopen(input.runId)
      expect(reopened).toEqual({ redriven: 0, reopenedChunks: 2, resent: 2 })
      const run = yield* Pipeline.drive(Pipeline.standard, input.runId, { pollMs: 5 })
      expect(run.status).toBe("COMPLETED")
      expect((yield* tableRows("test")).length).toBe(8)
    }).pipe(Effect.provide(services()))
  )

  it.live("a chunk payload deleted before its fit is split again from the cube", () =>
    Effect.gen(function* () {
      const input = yield* startCube({ nx: 5, ny: 3, chunk: 4 })
      const store = yield* BlobStore.BlobStore
      const key = Keys.chunkPayload(input.runId, 4)
      const original = yield* store.get(key)
      yield* store.remove(key)
      const run = yield* Pipeline.drive(Pipeline.standard, input.runId, { pollMs: 5 })
      expect(run.status).toBe("COMPLETED")
      expect(yield* store.get(key)).toEqual(original)
      const rows = yield* tableRows("test")
      expect(rows.length).toBe(15)
      expect(uniquePixels(rows)).toBe(15)
    }).pipe(Effect.provide(services()))
  )

  it.live("a chunk result deleted before the catalog is fitted again, with the same rows", () =>
    Effect.gen(function* () {
      const input = yield* startCube({ nx: 5, ny: 3, chunk: 4 })
      yield* Pipeline.drain(Pipeline.standard, { pollMs: 5 })
      const store = yield* BlobStore.BlobStore
      const key = Keys.chunkResult(input.runId, 8)
      const before = yield* store.get(key)
      yield* store.remove(key)
      const run = yield* Pipeline.drive(Pipeline.standard, input.runId, { pollMs: 5 })
      expect(run.status).toBe("COMPLETED")
      expect(Buffer.from(yield* store.get(key)).equals(Buffer.from(before))).toBe(true)
      const rows = yield* tableRows("test")
      expect(rows.length).toBe(15)
      expect(uniquePixels(rows)).toBe(15)
    }).pipe(Effect.provide(services()))
  )

  it.live("a lost chunk result whose spectra went through the slow fit is fitted again to the same bytes", () =>
    Effect.gen(function* () {
      const input = yield* startCube({ nx: 5, ny: 3, chunk: 4 })
      yield* Pipeline.drain(Pipeline.standard, { pollMs: 5 })
      const store = yield* BlobStore.BlobStore
      expect(Option.getOrThrow(yield* Effect.flatMap(RunTable.RunTable, (t) => t.getRun(input.runId))).spectraDeferred).toBe(8)
      const keys = [0, 4, 8, 12].map((start) => Keys.chunkResult(input.runId, start))
      const before = yield* Effect.forEach(keys, (key) => store.get(key))
      yield* Effect.forEach(keys, (key) => store.remove(key))
      const run = yield* Pipeline.drive(Pipeline.standard, input.runId, { pollMs: 5 })
      expect(run.status).toBe("COMPLETED")
      for (const [i, key] of keys.entries()) expect(Buffer.from(yield* store.get(key)).equals(Buffer.from(before[i])), key).toBe(true)
      expect((yield* tableRows("test")).every((r) => r.n_components >= 0)).toBe(true)
    }).pipe(Effect.provide(Layer.merge(memory, slowEveryOther)))
  )
})

/** Replays with the journal's entries passed through `edit` (damage done to the stored journal). */
const replayEdited = (runId: string, edit: (entries: ReadonlyArray<Journal.JournalEntry>) => ReadonlyArray<Journal.JournalEntry>) =>
  Effect.gen(function* () {
    const journal = yield* Journal.Journal
    const damaged: Journal.Journal = { ...journal, entries: (id) => Effect.map(journal.entries(id), edit) }
    return yield* Effect.flip(Pipeline.replay(Pipeline.standard, runId).pipe(Effect.provideService(Journal.Journal, damaged)))
  })

describe("Replay finds damage", () => {
  it.live("every journal row of one chunk's scope deleted", () =>
    Effect.gen(function* () {
      const { input } = yield* runCube({ nx: 5, ny: 3, chunk: 4 })
      const err = yield* replayEdited(input.runId, (es) => es.filter((e) => !(e.stage === "fit" && e.scope === "chunk-0000004")))
      expect(err).toMatchObject({ _tag: "NondeterminismError", stage: "fit", scope: "chunk-0000004", step: "fit-chunk", seq: 0 })
    }).pipe(Effect.provide(services()))
  )

  it.live("the catalog's finish record set to FAILED", () =>
    Effect.gen(function* () {
      const { input } = yield* runCube({ nx: 4, ny: 2, chunk: 4 })
      const err = yield* replayEdited(input.runId, (es) =>
        es.map((e) => (e.stage === "catalog" && e.step === "finish" ? { ...e, output: JSON.stringify({ status: "FAILED" }) } : e))
      )
      expect(err).toMatchObject({ _tag: "NondeterminismError", stage: "catalog", step: "finish" })
      expect(err.message).toMatch(/FAILED.*COMPLETED/)
    }).pipe(Effect.provide(services()))
  )

  it.live("a published part or the run's metadata that no longer exists", () =>
    Effect.gen(function* () {
      const { input } = yield* runCube({ nx: 4, ny: 2, chunk: 4 })
      const store = yield* BlobStore.BlobStore
      const part = Keys.resultPart("test", input.runId, 0)
      const bytes = yield* store.get(part)
      yield* store.remove(part)
      const err = yield* Effect.flip(Pipeline.replay(Pipeline.standard, input.runId))
      expect(err).toMatchObject({ _tag: "NondeterminismError", stage: "catalog", step: "compact" })
      expect(err.message).toContain(part)
      yield* store.put(part, bytes)
      yield* store.remove(Keys.runMeta(input.runId, "_validation.json"))
      const meta = yield* Effect.flip(Pipeline.replay(Pipeline.standard, input.runId))
      expect(meta.message).toContain("_validation.json")
    }).pipe(Effect.provide(services()))
  )
})
