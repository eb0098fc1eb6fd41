/**
 * The run table in SQLite: tables `runs` (one row per run, indexed by survey and creation
 * time) and `chunks` (one row per chunk). Every conditional write (claim, complete, fail,
 * settle, transition) reads and writes in one immediate transaction; `stage_chunks` holds the
 * chunks user fan-out stages have finished, so two processes
 * racing on a chunk see exactly one of them win.
 *
 * @since 0.1.0
 */
import { Errors, RunTable } from "@phs/core"
import { Clock, Effect, Layer, Option, Schema } from "effect"
import { Sqlite } from "./Sqlite.js"

/** A `runs` row, as SQLite returns it (parameters as JSON text). */
type RunRow = typeof RunTable.StoredRunJsonParams.Encoded
/** A `chunks` row. */
type ChunkRow = typeof RunTable.StoredChunk.Encoded

const decodeRun = Schema.decodeUnknownSync(RunTable.StoredRunJsonParams)
const toRun = (row: RunRow): RunTable.RunRecord => decodeRun(row)
const decodeChunk = Schema.decodeUnknownSync(RunTable.StoredChunk)
const toChunk = (row: ChunkRow): RunTable.ChunkRecord => decodeChunk(row)
const runRowOf = Schema.encodeSync(RunTable.StoredRunJsonParams)
const chunkRowOf = Schema.encodeSync(RunTable.StoredChunk)

/** What a transaction found, before it becomes a success or a typed failure. */
type Found<A> = { readonly _tag: "Ok"; readonly value: A } | { readonly _tag: "NotFound"; readonly runId: string }

const ok = <A>(value: A): Found<A> => ({ _tag: "Ok", value })
const notFound = (runId: string): Found<never> => ({ _tag: "NotFound", runId })
const unwrap = <A, E>(self: Effect.Effect<Found<A>, E>): Effect.Effect<A, E | Errors.RunNotFound> =>
  Effect.flatMap(self, (found) => (found._tag === "Ok" ? Effect.succeed(found.value) : Effect.fail(new Errors.RunNotFound({ runId: found.runId }))))

const settled = (c: ChunkRow | undefined): boolean => c === undefined || c.status === "COMPLETED" || c.status === "FAILED"

/**
 * A run table over the shared SQLite connection.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<RunTable.RunTable, Errors.StorageError, Sqlite> = Effect.gen(function* () {
  const sql = yield* Sqlite
  const s = yield* sql.use("prepare run table", (db) => ({
    insertRun: db.prepare(
      `INSERT INTO runs (run_id, survey, cube_key, created_at, updated_at, params, code_version, nx, ny, n_channels,
         chunk_size, n_spectra, jobs_total, jobs_completed, jobs_failed, spectra_done, spectra_deferred, slow_pending, status, reason, hdu, refit, cube_etag, cube_size, cube_name)
       VALUES (@run_id, @survey, @cube_key, @created_at, @updated_at, @params, @code_version, @nx, @ny, @n_channels,
         @chunk_size, @n_spectra, @jobs_total, @jobs_completed, @jobs_failed, @spectra_done, @spectra_deferred, @slow_pending, @status, @reason, @hdu, @refit, @cube_etag, @cube_size, @cube_name)
       ON CONFLICT (run_id) DO NOTHING`
    ),
    insertChunk: db.prepare(
      `INSERT INTO chunks (run_id, start, count, status, lease_until, attempts, started_at, finished_at, output_key, deferred, error)
       VALUES (@run_id, @start, @count, @status, @lease_until, @attempts, @started_at, @finished_at, @output_key, @deferred, @error)
       ON CONFLICT (run_id, start) DO NOTHING`
    ),
    getRun: db.prepare<[string], RunRow>(`SELECT * FROM runs WHERE run_id = ?`),
    listRuns: db.prepare<[number], RunRow>(`SELECT * FROM runs ORDER BY created_at DESC, run_id ASC LIMIT ?`),
    listSurveyRuns: db.prepare<[string, number], RunRow>(
      `SELECT * FROM runs WHERE survey = ? ORDER BY created_at DESC, run_id ASC LIMIT ?`
    ),
    getChunk: db.prepare<[string, number], ChunkRow>(`SELECT * FROM chunks WHERE run_id = ? AND start = ?`),
    listChunks: db.prepare<[string], ChunkRow>(`SELECT * FROM chunks WHERE run_id = ? ORDER BY start`),
    claim: db.prepare(
      `UPDATE chunks SET status = 'IN_PROGRESS', lease_until = ?, attempts = attempts + 1, started_at = ?
       WHERE run_id = ? AND start = ?`
    ),
    complete: db.prepare(
      `UPDATE chunks SET status = 'COMPLETED', lease_until = NULL, finished_at = ?, output_key = ?, deferred = ?, error = NULL
       WHERE run_id = ? AND start = ?`
    ),
    addCompleted: db.prepare(
      `UPDATE runs SET jobs_completed = jobs_completed + 1, spectra_done = spectra_done + ?,
         spectra_deferred = spectra_deferred + ?, slow_pending = slow_pending + ?, updated_at = ?
       WHERE run_id = ?`
    ),
    fail: db.prepare(
      `UPDATE chunks SET status = 'FAILED', lease_until = NULL, finished_at = ?, error = ? WHERE run_id = ? AND start = ?`
    ),
    addFailed: db.prepare(`UPDATE runs SET jobs_failed = jobs_failed + 1, updated_at = ? WHERE run_id = ?`),
    noteError: db.prepare(
      `UPDATE chunks SET error = ?, lease_until = CASE status WHEN 'IN_PROGRESS' THEN NULL ELSE lease_until END WHERE run_id = ? AND start = ?`
    ),
    clearDeferred: db.prepare(`UPDATE chunks SET deferred = 0 WHERE run_id = ? AND start = ?`),
    addSettled: db.prepare(
      `UPDATE runs SET slow_pending = slow_pending - ?, spectra_done = spectra_done + ?, updated_at = ? WHERE run_id = ?`
    ),
    setStatus: db.prepare(`UPDATE runs SET status = ?, reason = COALESCE(?, reason), updated_at = ? WHERE run_id = ?`),
    deleteChunks: db.prepare(`DELETE FROM chunks WHERE run_id = ?`),
    reopenChunks: db.prepare(`UPDATE chunks SET status = 'PENDING', lease_until = NULL, finished_at = NULL WHERE run_id = ? AND status = 'FAILED'`),
    reopenRun: db.prepare(
      `UPDATE runs SET jobs_failed = jobs_failed - ?, updated_at = ?,
         status = CASE status WHEN 'FAILED' THEN 'RUNNING' ELSE status END,
         reason = CASE status WHEN 'FAILED' THEN NULL ELSE reason END
       WHERE run_id = ?`
    ),
    deleteRun: db.prepare(`DELETE FROM runs WHERE run_id = ?`),
    insertStageChunk: db.prepare(
      `INSERT INTO stage_chunks (run_id, stage, start, finished_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`
    ),
    countStage: db.prepare<[string, string], { n: number }>(`SELECT COUNT(*) AS n FROM stage_chunks WHERE run_id = ? AND stage = ?`),
    stageProgress: db.prepare<[string], { stage: string; n: number }>(
      `SELECT stage, COUNT(*) AS n FROM stage_chunks WHERE run_id = ? GROUP BY stage ORDER BY stage`
    ),
    deleteStageChunks: db.prepare(`DELETE FROM stage_chunks WHERE run_id = ?`)
  }))

  const runRow = (runId: string): RunRow | undefined => s.getRun.get(runId)
  const storedRun = (runId: string): RunTable.RunRecord => toRun(runRow(runId)!)

  /** A conditional write in one transaction: `apply` runs when the run exists and says whether it wrote. */
  const conditional = (
    operation: string,
    runId: string,
    apply: (run: RunRow, now: number) => boolean
  ): Effect.Effect<RunTable.Applied, Errors.StorageError | Errors.RunNotFound> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      unwrap(
        sql.transaction(operation, (): Found<RunTable.Applied> => {
          const run = runRow(runId)
          if (run === undefined) return notFound(runId)
          const applied = apply(run, now)
          return ok({ applied, run: applied ? storedRun(runId) : toRun(run) })
        })
      )
    )

  /** A conditional write on one chunk of an existing run. */
  const onChunk = (operation: string, runId: string, start: number, apply: (chunk: ChunkRow | undefined, now: number) => boolean) =>
    conditional(operation, runId, (_, now) => apply(s.getChunk.get(runId, start), now))

  return RunTable.RunTable.of({
    createRun: (run, chunks) =>
      sql.transaction("createRun", () => {
        const inserted = s.insertRun.run({ hdu: null, refit: null, cube_etag: null, cube_size: null, cube_name: null, ...runRowOf(run) })
        if (inserted.changes === 0) return storedRun(run.runId)
        for (const c of chunks)
          s.insertChunk.run(chunkRowOf({ ...c, runId: run.runId }))
        return run
      }),

    getRun: (runId) => sql.use("getRun", () => Option.map(Option.fromNullable(runRow(runId)), toRun)),

    listRuns: (options) =>
      sql.use("listRuns", () => {
        const limit = options?.limit ?? -1
        const rows = options?.survey === undefined ? s.listRuns.all(limit) : s.listSurveyRuns.all(options.survey, limit)
        return rows.map(toRun)
      }),

    listChunks: (runId) => sql.use("listChunks", () => s.listChunks.all(runId).map(toChunk)),

    claimChunk: (runId, start, leaseMs) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        unwrap(
          sql.transaction("claimChunk", (): Found<RunTable.ClaimOutcome> => {
            if (runRow(runId) === undefined) return notFound(runId)
            const c = s.getChunk.get(runId, start)
            if (c === undefined) return notFound(`${runId} chunk ${start}`)
            if (c.status === "COMPLETED" || c.status === "FAILED") return ok({ _tag: "Settled", status: c.status })
            if (c.status === "IN_PROGRESS" && typeof c.lease_until === "number" && c.lease_until > now)
              return ok({ _tag: "Busy", leaseUntil: c.lease_until })
            s.claim.run(now + leaseMs, now, runId, start)
            return ok({ _tag: "Claimed", attempt: c.attempts + 1 })
          })
        )
      ),

    completeChunk: (runId, start, result) =>
      onChunk("completeChunk", runId, start, (c, now) => {
        if (settled(c)) return false
        s.complete.run(now, result.outputKey, result.deferred, runId, start)
        s.addCompleted.run(result.spectra - result.deferred, result.deferred, result.deferred, now, runId)
        return true
      }),

    failChunk: (runId, start, reason) =>
      onChunk("failChunk", runId, start, (c, now) => {
        if (settled(c)) return false
        s.fail.run(now, RunTable.clipReason(reason), runId, start)
        s.addFailed.run(now, runId)
        return true
      }),

    noteChunkError: (runId, start, reason) =>
      sql.use("noteChunkError", () => void s.noteError.run(RunTable.clipReason(reason), runId, start)),

    settleSlow: (runId, start) =>
      onChunk("settleSlow", runId, start, (c, now) => {
        if (c === undefined || c.deferred === 0) return false
        s.clearDeferred.run(runId, start)
        s.addSettled.run(c.deferred, c.deferred, now, runId)
        return true
      }),

    transition: (runId, from, to, reason) =>
      conditional("transition", runId, (run, now) => {
        if (!from.includes(run.status)) return false
        s.setStatus.run(to, reason ?? null, now, runId)
        return true
      }),

    reopenFailed: (runId) => {
      let reopened = 0
      return conditional("reopenFailed", runId, (_, now) => {
        reopened = s.reopenChunks.run(runId).changes
        if (reopened === 0) return false
        s.reopenRun.run(reopened, now, runId)
        return true
      }).pipe(Effect.map((applied) => ({ ...applied, reopened })))
    },

    completeStageChunk: (runId, stage, start) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        unwrap(
          sql.transaction("completeStageChunk", (): Found<{ applied: boolean; completed: number }> => {
            if (runRow(runId) === undefined) return notFound(runId)
            const applied = s.insertStageChunk.run(runId, stage, start, now).changes > 0
            return ok({ applied, completed: s.countStage.get(runId, stage)!.n })
          })
        )
      ),

    stageProgress: (runId) =>
      sql.use("stageProgress", () => Object.fromEntries(s.stageProgress.all(runId).map((r) => [r.stage, r.n]))),

    deleteRun: (runId) =>
      sql.transaction("deleteRun", () => {
        s.deleteStageChunks.run(runId)
        s.deleteChunks.run(runId)
        s.deleteRun.run(runId)
      })
  })
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<RunTable.RunTable, Errors.StorageError, Sqlite> = Layer.effect(RunTable.RunTable, make)
