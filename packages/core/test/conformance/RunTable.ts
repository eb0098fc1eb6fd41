/**
 * What every RunTable does, stated as tests: idempotent creation, leases, and conditional
 * writes that apply once and keep the run's counters exact. Time moves with `TestClock`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, TestClock } from "effect"
import { RunTable } from "../../src/index.js"

/** A run of 100 spectra in 4 chunks of 25, fresh from the split. */
export const makeRun = (overrides: Partial<RunTable.RunRecord> = {}): RunTable.RunRecord => ({
  runId: "run-a",
  survey: "grs",
  cubeKey: "cubes/grs.fits",
  createdAt: 1_000,
  updatedAt: 1_000,
  params: { beta: 3.5, snr_min: 2 },
  codeVersion: "0.1.0",
  nx: 10,
  ny: 10,
  nChannels: 424,
  chunkSize: 25,
  nSpectra: 100,
  jobsTotal: 4,
  jobsCompleted: 0,
  jobsFailed: 0,
  spectraDone: 0,
  spectraDeferred: 0,
  slowPending: 0,
  status: "RUNNING",
  reason: null,
  ...overrides
})

/** The PENDING chunks of a run. */
export const makeChunks = (run: RunTable.RunRecord): Array<RunTable.ChunkRecord> =>
  Array.from({ length: run.jobsTotal }, (_, i) => RunTable.pendingChunk(run.runId, i * run.chunkSize, Math.min(run.chunkSize, run.nSpectra - i * run.chunkSize)))

const LEASE = 60_000
const NOW = 10_000

export const runTableConformance = (name: string, layer: () => Layer.Layer<RunTable.RunTable, unknown>) =>
  describe(`RunTable conformance: ${name}`, () => {
    /** Runs `f` at time NOW on a table holding `makeRun()` and its chunks. */
    const withRun = <A, E>(f: (table: RunTable.RunTable, run: RunTable.RunRecord) => Effect.Effect<A, E>) => () =>
      Effect.gen(function* () {
        const table = yield* RunTable.RunTable
        const run = makeRun()
        yield* table.createRun(run, makeChunks(run))
        yield* TestClock.setTime(NOW)
        return yield* f(table, run)
      }).pipe(Effect.provide(layer()))

    const chunkAt = (table: RunTable.RunTable, runId: string, start: number) =>
      Effect.map(table.listChunks(runId), (cs) => cs.find((c) => c.start === start)!)

    const runOf = (table: RunTable.RunTable, runId: string) => Effect.map(table.getRun(runId), Option.getOrThrow)

    it.effect("createRun stores the run and its chunks", withRun((table, run) =>
      Effect.gen(function* () {
        expect(yield* table.getRun(run.runId)).toEqual(Option.some(run))
        expect(yield* table.listChunks(run.runId)).toEqual(makeChunks(run))
      })))

    it.effect("createRun is idempotent: a second create returns the first run and adds nothing", withRun((table, run) =>
      Effect.gen(function* () {
        const other = makeRun({ params: { beta: 9 }, jobsTotal: 2, createdAt: 5_000 })
        const stored = yield* table.createRun(other, makeChunks(other).map((c) => ({ ...c, start: c.start + 1 })))
        expect(stored).toEqual(run)
        expect(yield* table.getRun(run.runId)).toEqual(Option.some(run))
        expect((yield* table.listChunks(run.runId)).map((c) => c.start)).toEqual([0, 25, 50, 75])
      })))

    it.effect("createRun keeps the refit mode and the HDU a run was started with; a plain run has neither", () =>
      Effect.gen(function* () {
        const table = yield* RunTable.RunTable
        const refit = makeRun({ runId: "run-refit", refit: "spatial", hdu: 1 })
        yield* table.createRun(refit, makeChunks(refit))
        const plain = makeRun({ runId: "run-plain" })
        yield* table.createRun(plain, makeChunks(plain))
        expect(yield* runOf(table, refit.runId)).toEqual(refit)
        const stored = yield* runOf(table, plain.runId)
        expect(stored).toEqual(plain)
        expect("refit" in stored).toBe(false)
      }).pipe(Effect.provide(layer())))

    it.effect("createRun keeps the cube's identity, size and file name through the run's updates; a run recorded before them has none", () =>
      Effect.gen(function* () {
        const table = yield* RunTable.RunTable
        const run = makeRun({ runId: "run-etag", cubeEtag: "0f343b0931126a20f133d67c2b018a3b-3", cubeSize: 25_165_824, cubeName: "grs tile 1 (l=15).fits" })
        yield* table.createRun(run, makeChunks(run))
        yield* table.claimChunk(run.runId, 0, LEASE)
        const done = yield* table.completeChunk(run.runId, 0, { outputKey: "results/run-etag/0.json", spectra: 25, deferred: 0 })
        expect(done.run.cubeEtag).toBe(run.cubeEtag)
        const failed = yield* table.transition(run.runId, ["RUNNING"], "FAILED", "stop")
        expect(failed.run.cubeSize).toBe(run.cubeSize)
        const stored = yield* runOf(table, run.runId)
        expect({ cubeEtag: stored.cubeEtag, cubeSize: stored.cubeSize, cubeName: stored.cubeName }).toEqual({ cubeEtag: run.cubeEtag, cubeSize: run.cubeSize, cubeName: run.cubeName })
        expect(failed.run.cubeName).toBe(run.cubeName)
        expect(RunTable.cubeNameOf(stored)).toBe("grs tile 1 (l=15).fits")
        const old = makeRun({ runId: "run-old" })
        yield* table.createRun(old, makeChunks(old))
        const oldStored = yield* runOf(table, old.runId)
        expect("cubeEtag" in oldStored || "cubeSize" in oldStored || "cubeName" in oldStored).toBe(false)
        expect(RunTable.cubeNameOf(oldStored)).toBe(old.cubeKey)
      }).pipe(Effect.provide(layer())))

    it.effect("getRun of an unknown run is none", withRun((table) =>
      Effect.gen(function* () {
        expect(yield* table.getRun("run-nope")).toEqual(Option.none())
      })))

    it.effect("listChunks is ordered by start", () =>
      Effect.gen(function* () {
        const table = yield* RunTable.RunTable
        const run = makeRun({ runId: "run-r", jobsTotal: 12, chunkSize: 5, nSpectra: 60 })
        yield* table.createRun(run, makeChunks(run).reverse())
        expect((yield* table.listChunks("run-r")).map((c) => c.start)).toEqual([0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55])
        expect(yield* table.listChunks("run-nope")).toEqual([])
      }).pipe(Effect.provide(layer())))

    it.effect("claiming a PENDING chunk leases it: Claimed, attempt 1", withRun((table, run) =>
      Effect.gen(function* () {
        expect(yield* table.claimChunk(run.runId, 25, LEASE)).toEqual({ _tag: "Claimed", attempt: 1 })
        expect(yield* chunkAt(table, run.runId, 25)).toMatchObject({
          status: "IN_PROGRESS",
          leaseUntil: NOW + LEASE,
          attempts: 1,
          startedAt: NOW
        })
      })))

    it.effect("a chunk under a live lease is Busy until the lease ends", withRun((table, run) =>
      Effect.gen(function* () {
        yield* table.claimChunk(run.runId, 0, LEASE)
        yield* TestClock.adjust(LEASE - 1)
        expect(yield* table.claimChunk(run.runId, 0, LEASE)).toEqual({ _tag: "Busy", leaseUntil: NOW + LEASE })
        expect((yield* chunkAt(table, run.runId, 0)).attempts).toBe(1)
      })))

    it.effect("a chunk whose lease expired is claimed again: Claimed, attempt 2", withRun((table, run) =>
      Effect.gen(function* () {
        yield* table.claimChunk(run.runId, 0, LEASE)
        yield* TestClock.adjust(LEASE)
        expect(yield* table.claimChunk(run.runId, 0, LEASE)).toEqual({ _tag: "Claimed", attempt: 2 })
        expect(yield* chunkAt(table, run.runId, 0)).toMatchObject({ leaseUntil: NOW + 2 * LEASE, attempts: 2 })
      })))

    it.effect("a settled chunk is not claimed again", withRun((table, run) =>
      Effect.gen(function* () {
        yield* table.completeChunk(run.runId, 0, { outputKey: "out/0.parquet", spectra: 25, deferred: 0 })
        yield* table.failChunk(run.runId, 25, "bad data")
        expect(yield* table.claimChunk(run.runId, 0, LEASE)).toEqual({ _tag: "Settled", status: "COMPLETED" })
        expect(yield* table.claimChunk(run.runId, 25, LEASE)).toEqual({ _tag: "Settled", status: "FAILED" })
      })))

    it.effect("claiming in an unknown run or an unknown chunk fails with RunNotFound", withRun((table, run) =>
      Effect.gen(function* () {
        expect((yield* Effect.flip(table.claimChunk("run-nope", 0, LEASE)))._tag).toBe("RunNotFound")
        expect((yield* Effect.flip(table.claimChunk(run.runId, 3, LEASE)))._tag).toBe("RunNotFound")
      })))

    it.effect("completeChunk applies once: COMPLETED and counted; a second call changes nothing", withRun((table, run) =>
      Effect.gen(function* () {
        yield* table.claimChunk(run.runId, 0, LEASE)
        yield* TestClock.adjust(500)
        const first = yield* table.completeChunk(run.runId, 0, { outputKey: "out/0.parquet", spectra: 25, deferred: 2 })
        expect(first.applied).toBe(true)
        expect(first.run).toMatchObject({ jobsCompleted: 1, spectraDone: 23, spectraDeferred: 2, slowPending: 2, updatedAt: NOW + 500 })
        expect(yield* chunkAt(table, run.runId, 0)).toMatchObject({
          status: "COMPLETED",
          leaseUntil: null,
          finishedAt: NOW + 500,
          outputKey: "out/0.parquet",
          deferred: 2
        })
        const second = yield* table.completeChunk(run.runId, 0, { outputKey: "out/0.parquet", spectra: 25, deferred: 2 })
        expect(second).toEqual({ applied: false, run: first.run })
        expect(yield* runOf(table, run.runId)).toEqual(first.run)
      })))

    it.effect("completeStageChunk counts a fan-out stage's chunk once, per stage; stageProgress reports every stage", withRun((table, run) =>
      Effect.gen(function* () {
        expect(yield* table.stageProgress(run.runId)).toEqual({})
        expect(yield* table.completeStageChunk(run.runId, "despike", 25)).toEqual({ applied: true, completed: 1 })
        expect(yield* table.completeStageChunk(run.runId, "despike", 25)).toEqual({ applied: false, completed: 1 })
        expect(yield* table.completeStageChunk(run.runId, "despike", 0)).toEqual({ applied: true, completed: 2 })
        expect(yield* table.completeStageChunk(run.runId, "refit", 0)).toEqual({ applied: true, completed: 1 })
        expect(yield* table.stageProgress(run.runId)).toEqual({ despike: 2, refit: 1 })
        // the fit's own counters are untouched
        expect((yield* runOf(table, run.runId)).jobsCompleted).toBe(run.jobsCompleted)
        const error = yield* Effect.flip(table.completeStageChunk("run-nope", "despike", 0))
        expect(error._tag).toBe("RunNotFound")
        yield* table.deleteRun(run.runId)
        expect(yield* table.stageProgress(run.runId)).toEqual({})
      })))

    it.effect("completeChunk of an unknown run fails with RunNotFound", withRun((table) =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(table.completeChunk("run-nope", 0, { outputKey: "k", spectra: 1, deferred: 0 }))
        expect(error._tag).toBe("RunNotFound")
      })))

    it.effect("the run's counters add up exactly over every chunk", withRun((table, run) =>
      Effect.gen(function* () {
        const deferred = [0, 3, 0, 5]
        for (const [i, d] of deferred.entries())
          yield* table.completeChunk(run.runId, i * 25, { outputKey: `out/${i}.parquet`, spectra: 25, deferred: d })
        for (const [i, d] of deferred.entries())
          yield* table.completeChunk(run.runId, i * 25, { outputKey: `out/${i}.parquet`, spectra: 25, deferred: d })
        const counted = yield* runOf(table, run.runId)
        expect(counted).toMatchObject({ jobsCompleted: 4, jobsFailed: 0, spectraDone: 92, spectraDeferred: 8, slowPending: 8 })
        expect(RunTable.isSettled(counted)).toBe(false)
      })))

    it.effect("settleSlow applies once: deferred spectra become done", withRun((table, run) =>
      Effect.gen(function* () {
        yield* table.completeChunk(run.runId, 25, { outputKey: "out/25.parquet", spectra: 25, deferred: 3 })
        const first = yield* table.settleSlow(run.runId, 25)
        expect(first.applied).toBe(true)
        expect(first.run).toMatchObject({ spectraDone: 25, spectraDeferred: 3, slowPending: 0 })
        expect((yield* chunkAt(table, run.runId, 25)).deferred).toBe(0)
        const second = yield* table.settleSlow(run.runId, 25)
        expect(second).toEqual({ applied: false, run: first.run })
        expect((yield* table.settleSlow(run.runId, 0)).applied).toBe(false)
      })))

    it.effect("a run is settled when every chunk is and nothing slow is pending", withRun((table, run) =>
      Effect.gen(function* () {
        yield* table.completeChunk(run.runId, 0, { outputKey: "a", spectra: 25, deferred: 1 })
        yield* table.completeChunk(run.runId, 25, { outputKey: "b", spectra: 25, deferred: 0 })
        yield* table.completeChunk(run.runId, 50, { outputKey: "c", spectra: 25, deferred: 0 })
        const failed = yield* table.failChunk(run.runId, 75, "bad")
        expect(RunTable.isSettled(failed.run)).toBe(false)
        const settled = yield* table.settleSlow(run.runId, 0)
        expect(RunTable.isSettled(settled.run)).toBe(true)
        expect(settled.run).toMatchObject({ jobsCompleted: 3, jobsFailed: 1, spectraDone: 75, slowPending: 0 })
      })))

    it.effect("failChunk applies once: FAILED with the reason, jobsFailed + 1", withRun((table, run) =>
      Effect.gen(function* () {
        yield* table.claimChunk(run.runId, 50, LEASE)
        const first = yield* table.failChunk(run.runId, 50, "FitError: singular matrix")
        expect(first.applied).toBe(true)
        expect(first.run.jobsFailed).toBe(1)
        expect(yield* chunkAt(table, run.runId, 50)).toMatchObject({
          status: "FAILED",
          leaseUntil: null,
          finishedAt: NOW,
          error: "FitError: singular matrix"
        })
        expect(yield* table.failChunk(run.runId, 50, "again")).toEqual({ applied: false, run: first.run })
        expect((yield* table.completeChunk(run.runId, 50, { outputKey: "k", spectra: 25, deferred: 0 })).applied).toBe(false)
        expect((yield* chunkAt(table, run.runId, 50)).error).toBe("FitError: singular matrix")
      })))

    it.effect("reopenFailed puts failed chunks back to PENDING and a FAILED run back to RUNNING, once", withRun((table, run) =>
      Effect.gen(function* () {
        yield* table.claimChunk(run.runId, 25, LEASE)
        yield* table.failChunk(run.runId, 25, "dead-lettered")
        yield* table.failChunk(run.runId, 75, "dead-lettered")
        yield* table.transition(run.runId, ["RUNNING"], "FAILED", "2 chunk(s) failed")
        const reopened = yield* table.reopenFailed(run.runId)
        expect(reopened.applied).toBe(true)
        expect(reopened.reopened).toBe(2)
        expect(reopened.run.jobsFailed).toBe(0)
        expect(reopened.run.status).toBe("RUNNING")
        expect(reopened.run.reason).toBeNull()
        expect(yield* chunkAt(table, run.runId, 25)).toMatchObject({ status: "PENDING", attempts: 1, error: "dead-lettered" })
        expect((yield* table.claimChunk(run.runId, 25, LEASE))._tag).toBe("Claimed")
        const again = yield* table.reopenFailed(run.runId)
        expect(again.applied).toBe(false)
        expect(again.reopened).toBe(0)
      })))

    it.effect("a completed chunk cannot fail", withRun((table, run) =>
      Effect.gen(function* () {
        yield* table.completeChunk(run.runId, 0, { outputKey: "k", spectra: 25, deferred: 0 })
        const failed = yield* table.failChunk(run.runId, 0, "late failure")
        expect(failed.applied).toBe(false)
        expect(failed.run.jobsFailed).toBe(0)
        expect((yield* chunkAt(table, run.runId, 0)).status).toBe("COMPLETED")
      })))

    it.effect("a chunk's error is clipped to 1 KB", withRun((table, run) =>
      Effect.gen(function* () {
        yield* table.failChunk(run.runId, 0, "x".repeat(5000))
        yield* table.noteChunkError(run.runId, 25, "y".repeat(5000))
        const cs = yield* table.listChunks(run.runId)
        expect(cs[0].error!.length).toBeLessThanOrEqual(1024)
        expect(cs[0].error!.startsWith("xxx")).toBe(true)
        expect(cs[1].error!.length).toBeLessThanOrEqual(1024)
      })))

    it.effect("noteChunkError records an attempt's error and drops the lease: the next claim needs no wait", withRun((table, run) =>
      Effect.gen(function* () {
        yield* table.claimChunk(run.runId, 0, LEASE)
        yield* table.noteChunkError(run.runId, 0, "StepTimeout")
        expect(yield* chunkAt(table, run.runId, 0)).toMatchObject({ status: "IN_PROGRESS", error: "StepTimeout", leaseUntil: null })
        expect(yield* table.claimChunk(run.runId, 0, LEASE)).toEqual({ _tag: "Claimed", attempt: 2 })
      })))

    it.effect("transition moves the run only from one of the given statuses", withRun((table, run) =>
      Effect.gen(function* () {
        const moved = yield* table.transition(run.runId, ["RUNNING"], "CATALOGING")
        expect(moved.applied).toBe(true)
        expect(moved.run).toMatchObject({ status: "CATALOGING", updatedAt: NOW })
        const refused = yield* table.transition(run.runId, ["SPLITTING", "RUNNING"], "FAILED", "too late")
        expect(refused).toEqual({ applied: false, run: moved.run })
        const failed = yield* table.transition(run.runId, ["CATALOGING"], "FAILED", "catalog refused the table")
        expect(failed.run).toMatchObject({ status: "FAILED", reason: "catalog refused the table" })
        expect(yield* runOf(table, run.runId)).toEqual(failed.run)
        expect((yield* Effect.flip(table.transition("run-nope", ["RUNNING"], "FAILED")))._tag).toBe("RunNotFound")
      })))

    it.effect("listRuns lists newest first, optionally one survey's, up to a limit", withRun((table, run) =>
      Effect.gen(function* () {
        for (const r of [
          makeRun({ runId: "run-b", survey: "cgps", createdAt: 3_000 }),
          makeRun({ runId: "run-c", survey: "grs", createdAt: 2_000 }),
          makeRun({ runId: "run-d", survey: "grs", createdAt: 500 })
        ])
          yield* table.createRun(r, makeChunks(r))
        expect((yield* table.listRuns()).map((r) => r.runId)).toEqual(["run-b", "run-c", run.runId, "run-d"])
        expect((yield* table.listRuns({ survey: "grs" })).map((r) => r.runId)).toEqual(["run-c", run.runId, "run-d"])
        expect((yield* table.listRuns({ survey: "grs", limit: 2 })).map((r) => r.runId)).toEqual(["run-c", run.runId])
        expect(yield* table.listRuns({ survey: "vgps" })).toEqual([])
      })))

    it.effect("deleteRun removes the run and its chunks", withRun((table, run) =>
      Effect.gen(function* () {
        yield* table.deleteRun(run.runId)
        expect(yield* table.getRun(run.runId)).toEqual(Option.none())
        expect(yield* table.listChunks(run.runId)).toEqual([])
        expect(yield* table.listRuns()).toEqual([])
        yield* table.deleteRun(run.runId)
      })))
  })
