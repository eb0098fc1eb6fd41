import { describe, expect, it } from "@effect/vitest"
import { BlobStore, Fitter, Journal, Keys, Pipeline, ResultParquet, type ResultSchema, RunTable, Stage } from "@phs/core"
import { DriverLock, LocalRun, RuntimeLocal } from "@phs/runtime-local"
import { Effect, Exit, Layer } from "effect"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { tempDir } from "../../test/support/cli.js"
import { despike, despikeStage, neighboursOf, pipeline } from "./despike.js"

const sample = fileURLToPath(new URL("../grs-5x5.fits", import.meta.url))
const runtime = (workdir: string) => Layer.mergeAll(RuntimeLocal.layer({ workdir }), DriverLock.layer({ workdir }), Fitter.layerNative())
const opts = { pollMs: 10, concurrency: 1 }

type Row = ResultSchema.DecompositionRow

const published = (survey: string, runId: string) =>
  Effect.gen(function* () {
    const store = yield* BlobStore.BlobStore
    const rows: Row[] = []
    for (const key of yield* store.list(Keys.runParts(survey, runId))) rows.push(...(yield* ResultParquet.decodeRows(yield* store.get(key))))
    return rows.sort((a, b) => a.y - b.y || a.x - b.x)
  })

/** The fit's rows of every chunk: the whole map, read without any halo logic. */
const fitRows = (runId: string) =>
  Effect.gen(function* () {
    const store = yield* BlobStore.BlobStore
    const rows: Row[] = []
    for (const c of yield* Effect.flatMap(RunTable.RunTable, (t) => t.listChunks(runId)))
      rows.push(...(yield* ResultParquet.decodeRows(yield* store.get(Keys.chunkResult(runId, c.start)))))
    return rows
  })

const withoutRunId = (rows: ReadonlyArray<Row>) => rows.map(({ run_id: _, ...r }) => r)

describe("a fan-out stage with a halo (examples/fanout-stage)", () => {
  it.live("runs per chunk behind the fit, reads its neighbours across chunks, and is what the catalog publishes", () =>
    Effect.gen(function* () {
      // 5×5 pixels in chunks of 4: every chunk's neighbourhood spans other chunks.
      const run = yield* LocalRun.run(pipeline, { cube: sample, survey: "grs", chunkSize: 4 }, opts)
      expect(run.status).toBe("COMPLETED")
      const fit = yield* fitRows(run.runId)
      const byPixel = new Map(fit.map((r) => [`${r.x},${r.y}`, r]))
      const expected = fit.map((r) => despike(r, neighboursOf(byPixel, r.x, r.y))).sort((a, b) => a.y - b.y || a.x - b.x)
      const rows = yield* published("grs", run.runId)
      expect(rows).toEqual(expected)
      expect(rows).toHaveLength(25)
      // the sample has spikes: the published table is not the fit's
      const changed = rows.filter((r) => r.n_components !== byPixel.get(`${r.x},${r.y}`)!.n_components)
      expect(changed.length).toBeGreaterThan(0)
      // per-stage progress in the run table: every chunk once
      const progress = yield* Effect.flatMap(RunTable.RunTable, (t) => t.stageProgress(run.runId))
      expect(progress).toEqual({ despike: run.jobsTotal })
      expect(Pipeline.stageProgressText(progress, run.jobsTotal)).toBe(`despike ${run.jobsTotal}/${run.jobsTotal}`)
      const steps = (yield* Effect.flatMap(Journal.Journal, (j) => j.entries(run.runId))).filter((e) => e.stage === "despike")
      expect(steps.filter((e) => e.step === "run-chunk")).toHaveLength(run.jobsTotal)
      expect(steps.filter((e) => e.step === "enqueue")).toHaveLength(1)
      // replay re-executes the stage's scopes against the journal
      const replayed = yield* Pipeline.replay(pipeline, run.runId)
      expect(replayed.steps).toBeGreaterThan(steps.length)
    }).pipe(Effect.provide(runtime(path.join(tempDir(), "w"))))
  )

  it.live("gives the same rows whatever the chunking", () =>
    Effect.gen(function* () {
      const tables: Array<ReadonlyArray<Omit<Row, "run_id">>> = []
      for (const chunkSize of [3, 7, 25]) {
        const run = yield* LocalRun.run(pipeline, { cube: sample, survey: "grs", chunkSize }, opts)
        expect(run.status).toBe("COMPLETED")
        tables.push(withoutRunId(yield* published("grs", run.runId)))
      }
      expect(tables[1]).toEqual(tables[0])
      expect(tables[2]).toEqual(tables[0])
    }).pipe(Effect.provide(runtime(path.join(tempDir(), "w"))))
  )

  it.live("resumes after a crash in the middle of the stage without redoing finished chunks", () =>
    Effect.gen(function* () {
      const workdir = path.join(tempDir(), "w")
      const calls: number[] = []
      const crashing = Pipeline.withStage(
        Pipeline.standard,
        Stage.fanOut({
          name: despikeStage.name,
          after: despikeStage.after,
          halo: despikeStage.halo,
          run: (ctx) =>
            Effect.suspend(() => {
              calls.push(ctx.chunk.start)
              // the process dies while the third chunk runs
              return calls.length === 3 ? Effect.dieMessage("killed") : despikeStage.run(ctx)
            })
        })
      )
      const first = yield* Effect.exit(LocalRun.run(crashing, { cube: sample, survey: "grs", chunkSize: 4 }, opts).pipe(Effect.provide(runtime(workdir))))
      expect(Exit.isFailure(first)).toBe(true)
      expect(calls).toHaveLength(3)
      // a new process: what the dead one held is claimable again, then drive to the end
      yield* RuntimeLocal.recoverAbandoned({ workdir })
      const resumed = yield* Effect.gen(function* () {
        const runId = (yield* Effect.flatMap(RunTable.RunTable, (t) => t.listRuns()))[0].runId
        const run = yield* Pipeline.drive(crashing, runId, opts)
        return { run, rows: yield* published("grs", runId) }
      }).pipe(Effect.provide(runtime(workdir)))
      expect(resumed.run.status).toBe("COMPLETED")
      // the two chunks finished before the crash ran once; the crashed one ran again
      expect(calls).toHaveLength(resumed.run.jobsTotal + 1)
      expect(new Set(calls).size).toBe(resumed.run.jobsTotal)
      // the same rows as a run that never crashed
      const clean = yield* Effect.gen(function* () {
        const run = yield* LocalRun.run(pipeline, { cube: sample, survey: "grs", chunkSize: 4 }, opts)
        return yield* published("grs", run.runId)
      }).pipe(Effect.provide(runtime(path.join(tempDir(), "clean"))))
      expect(resumed.rows).toEqual(clean)
    })
  )

  it.live("a redelivered stage message changes nothing", () =>
    Effect.gen(function* () {
      const run = yield* LocalRun.run(pipeline, { cube: sample, survey: "grs", chunkSize: 4 }, opts)
      const before = yield* published("grs", run.runId)
      const chunk = (yield* Effect.flatMap(RunTable.RunTable, (t) => t.listChunks(run.runId)))[1]
      const task = Pipeline.stageTaskOf(pipeline.fanOut[0], run, chunk)
      const store = yield* BlobStore.BlobStore
      const file = yield* store.get(task.outputKey)
      const handled = yield* Pipeline.handleStage(pipeline, JSON.stringify(task), Pipeline.errorText)
      expect(handled._tag).toBe("Done")
      expect(yield* store.get(task.outputKey)).toEqual(file)
      expect(yield* Effect.flatMap(RunTable.RunTable, (t) => t.stageProgress(run.runId))).toEqual({ despike: run.jobsTotal })
      expect(yield* published("grs", run.runId)).toEqual(before)
    }).pipe(Effect.provide(runtime(path.join(tempDir(), "w"))))
  )

  it("refuses a fan-out stage after a stage that is not the last one, and a bad name", () => {
    expect(() => Pipeline.withStage(pipeline, Stage.fanOut({ name: "again", after: "fit", run: (ctx) => Effect.succeed(ctx.rows) }))).toThrow(/after despike/)
    expect(() => Pipeline.withStage(Pipeline.standard, Stage.fanOut({ name: "Bad Name", after: "fit", run: (ctx) => Effect.succeed(ctx.rows) }))).toThrow(/must match/)
  })
})
