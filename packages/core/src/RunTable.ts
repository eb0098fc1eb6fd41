/**
 * Runs and their chunks: the single source of progress. The CLI's progress bar reads only
 * this. SQLite locally, DynamoDB on AWS (one partition per run: `RUN` and `CHUNK#{start}`).
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Option, Schema } from "effect"
import { RunNotFound, StorageError } from "./Errors.js"
import { Refit } from "./Params.js"

/**
 * @since 0.1.0
 * @category models
 */
export const RunStatus = Schema.Literal("SPLITTING", "RUNNING", "CATALOGING", "COMPLETED", "FAILED")
export type RunStatus = typeof RunStatus.Type

/**
 * @since 0.1.0
 * @category models
 */
export const ChunkStatus = Schema.Literal("PENDING", "IN_PROGRESS", "COMPLETED", "FAILED")
export type ChunkStatus = typeof ChunkStatus.Type

/**
 * The `RUN` item.
 *
 * @since 0.1.0
 * @category models
 */
export const RunRecord = Schema.Struct({
  runId: Schema.String,
  survey: Schema.String,
  cubeKey: Schema.String,
  createdAt: Schema.Number,
  updatedAt: Schema.Number,
  params: Schema.Record({ key: Schema.String, value: Schema.Number }),
  codeVersion: Schema.String,
  nx: Schema.Number,
  ny: Schema.Number,
  nChannels: Schema.Number,
  chunkSize: Schema.Number,
  nSpectra: Schema.Number,
  jobsTotal: Schema.Number,
  jobsCompleted: Schema.Number,
  jobsFailed: Schema.Number,
  /** Spectra with a final result (deferred ones count when the slow fit settles them). */
  spectraDone: Schema.Number,
  /** Spectra ever deferred to the slow queue. */
  spectraDeferred: Schema.Number,
  /** Deferred spectra not yet refitted. */
  slowPending: Schema.Number,
  status: RunStatus,
  reason: Schema.NullOr(Schema.String),
  /** The HDU the cube is read from, when `--hdu` named one other than the first 3-D image (absent: that one). */
  hdu: Schema.optional(Schema.Int),
  /** The `--refit` mode the run composes its pipeline with, when it is not `none` (absent: none). */
  refit: Schema.optional(Refit),
  /**
   * The cube object's identity when the run was split (`BlobStore.stat`: S3's ETag), and its
   * size: resume refuses a cube replaced since (absent: a run recorded before the field).
   */
  cubeEtag: Schema.optional(Schema.String),
  cubeSize: Schema.optional(Schema.Number),
  /** The file name of the cube as the user gave it (basename), for people (absent: a run recorded before the field; `cubeNameOf`). */
  cubeName: Schema.optional(Schema.String)
})
export type RunRecord = typeof RunRecord.Type

/**
 * What to call a run's cube in output: the file name it was started from, or its key for a
 * run recorded before the name was.
 *
 * @since 0.3.0
 * @category utils
 */
export const cubeNameOf = (run: Pick<RunRecord, "cubeKey" | "cubeName">): string => run.cubeName ?? run.cubeKey

/**
 * A `CHUNK#{start}` item.
 *
 * @since 0.1.0
 * @category models
 */
export const ChunkRecord = Schema.Struct({
  runId: Schema.String,
  start: Schema.Number,
  count: Schema.Number,
  status: ChunkStatus,
  leaseUntil: Schema.NullOr(Schema.Number),
  attempts: Schema.Number,
  startedAt: Schema.NullOr(Schema.Number),
  finishedAt: Schema.NullOr(Schema.Number),
  outputKey: Schema.NullOr(Schema.String),
  /** Spectra of this chunk waiting for the slow fit. */
  deferred: Schema.Number,
  error: Schema.NullOr(Schema.String)
})
export type ChunkRecord = typeof ChunkRecord.Type

/** A field stored under another (snake_case) name. */
const stored = <S extends Schema.Schema.Any, const K extends string>(schema: S, key: K) => Schema.propertySignature(schema).pipe(Schema.fromKey(key))
/** A nullable field stored under another name; an absent one (DynamoDB leaves nulls out) is null. */
const storedOrNull = <A, I, const K extends string>(schema: Schema.Schema<A, I>, key: K) =>
  Schema.optionalWith(Schema.NullOr(schema), { nullable: true, default: () => null }).pipe(Schema.fromKey(key))

const runStorageFields = {
  runId: stored(Schema.String, "run_id"),
  survey: Schema.String,
  cubeKey: stored(Schema.String, "cube_key"),
  createdAt: stored(Schema.Number, "created_at"),
  updatedAt: stored(Schema.Number, "updated_at"),
  params: RunRecord.fields.params,
  codeVersion: stored(Schema.String, "code_version"),
  nx: Schema.Number,
  ny: Schema.Number,
  nChannels: stored(Schema.Number, "n_channels"),
  chunkSize: stored(Schema.Number, "chunk_size"),
  nSpectra: stored(Schema.Number, "n_spectra"),
  jobsTotal: stored(Schema.Number, "jobs_total"),
  jobsCompleted: stored(Schema.Number, "jobs_completed"),
  jobsFailed: stored(Schema.Number, "jobs_failed"),
  spectraDone: stored(Schema.Number, "spectra_done"),
  spectraDeferred: stored(Schema.Number, "spectra_deferred"),
  slowPending: stored(Schema.Number, "slow_pending"),
  status: RunStatus,
  reason: storedOrNull(Schema.String, "reason"),
  hdu: Schema.optionalWith(Schema.Int, { nullable: true }),
  refit: Schema.optionalWith(Refit, { nullable: true }),
  cubeEtag: Schema.optionalWith(Schema.String, { nullable: true }).pipe(Schema.fromKey("cube_etag")),
  cubeSize: Schema.optionalWith(Schema.Number, { nullable: true }).pipe(Schema.fromKey("cube_size")),
  cubeName: Schema.optionalWith(Schema.String, { nullable: true }).pipe(Schema.fromKey("cube_name"))
}

/**
 * A run as a storage back end keeps it (the SQLite `runs` row, the DynamoDB `RUN` item):
 * snake_case names, a missing `reason` read as null. Decodes to a `RunRecord`.
 *
 * @since 0.1.0
 * @category storage
 */
export const StoredRun = Schema.Struct(runStorageFields)

/**
 * `StoredRun` with the parameters as JSON text (a SQLite column).
 *
 * @since 0.1.0
 * @category storage
 */
export const StoredRunJsonParams = Schema.Struct({ ...runStorageFields, params: Schema.parseJson(RunRecord.fields.params) })

/**
 * A chunk as a storage back end keeps it (the SQLite `chunks` row, a `CHUNK#` item).
 * Decodes to a `ChunkRecord`.
 *
 * @since 0.1.0
 * @category storage
 */
export const StoredChunk = Schema.Struct({
  runId: stored(Schema.String, "run_id"),
  start: Schema.Number,
  count: Schema.Number,
  status: ChunkStatus,
  leaseUntil: storedOrNull(Schema.Number, "lease_until"),
  attempts: Schema.Number,
  startedAt: storedOrNull(Schema.Number, "started_at"),
  finishedAt: storedOrNull(Schema.Number, "finished_at"),
  outputKey: storedOrNull(Schema.String, "output_key"),
  deferred: Schema.Number,
  error: storedOrNull(Schema.String, "error")
})

/**
 * A stored record that does not decode: the storage holds something phs did not write.
 *
 * @since 0.1.0
 * @category storage
 */
export const decodeStored =
  <A, I>(schema: Schema.Schema<A, I>, operation: string) =>
  (row: unknown): Effect.Effect<A, StorageError> =>
    Schema.decodeUnknown(schema)(row).pipe(
      Effect.mapError((e) => new StorageError({ operation, reason: `stored record does not decode: ${e.message}`, retryable: false }))
    )

/**
 * What a claim found.
 *
 * @since 0.1.0
 * @category models
 */
export type ClaimOutcome =
  | { readonly _tag: "Claimed"; readonly attempt: number }
  | { readonly _tag: "Settled"; readonly status: "COMPLETED" | "FAILED" }
  | { readonly _tag: "Busy"; readonly leaseUntil: number }

/**
 * What a conditional write did.
 *
 * @since 0.1.0
 * @category models
 */
export interface Applied {
  readonly applied: boolean
  readonly run: RunRecord
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RunTable {
  /** Creates the run and its chunks if absent; returns the stored run either way. */
  readonly createRun: (run: RunRecord, chunks: ReadonlyArray<ChunkRecord>) => Effect.Effect<RunRecord, StorageError>
  readonly getRun: (runId: string) => Effect.Effect<Option.Option<RunRecord>, StorageError>
  /** Newest first; optionally one survey's. */
  readonly listRuns: (options?: { readonly survey?: string; readonly limit?: number }) => Effect.Effect<ReadonlyArray<RunRecord>, StorageError>
  /** Ordered by start. */
  readonly listChunks: (runId: string) => Effect.Effect<ReadonlyArray<ChunkRecord>, StorageError>
  /** PENDING, or IN_PROGRESS with an expired lease → IN_PROGRESS with a new lease. */
  readonly claimChunk: (runId: string, start: number, leaseMs: number) => Effect.Effect<ClaimOutcome, StorageError | RunNotFound>
  /**
   * If the chunk is not yet settled: COMPLETED, and in the same transaction
   * jobsCompleted + 1, spectraDone + (spectra − deferred), spectraDeferred and slowPending + deferred.
   */
  readonly completeChunk: (
    runId: string,
    start: number,
    result: { readonly outputKey: string; readonly spectra: number; readonly deferred: number }
  ) => Effect.Effect<Applied, StorageError | RunNotFound>
  /** If the chunk is not yet settled: FAILED with the reason (cut to 1 KB), jobsFailed + 1. */
  readonly failChunk: (runId: string, start: number, reason: string) => Effect.Effect<Applied, StorageError | RunNotFound>
  /** Records a failed attempt's error and drops its lease, so the next delivery can claim at once. */
  readonly noteChunkError: (runId: string, start: number, reason: string) => Effect.Effect<void, StorageError>
  /** If the chunk still has deferred spectra: deferred → 0, slowPending − n, spectraDone + n. */
  readonly settleSlow: (runId: string, start: number) => Effect.Effect<Applied, StorageError | RunNotFound>
  /** Moves the run to `to` if its status is one of `from`. */
  readonly transition: (
    runId: string,
    from: ReadonlyArray<RunStatus>,
    to: RunStatus,
    reason?: string
  ) => Effect.Effect<Applied, StorageError | RunNotFound>
  /**
   * Puts every FAILED chunk back to PENDING (attempts and last error kept), takes them off
   * jobsFailed, and a FAILED run back to RUNNING — in one transaction. For a redrive.
   */
  readonly reopenFailed: (runId: string) => Effect.Effect<Applied & { readonly reopened: number }, StorageError | RunNotFound>
  /**
   * Records that a user fan-out stage finished a chunk, once (a repeat changes nothing);
   * returns whether this call recorded it and the stage's completed chunks afterwards.
   */
  readonly completeStageChunk: (
    runId: string,
    stage: string,
    start: number
  ) => Effect.Effect<{ readonly applied: boolean; readonly completed: number }, StorageError | RunNotFound>
  /** Completed chunks per user fan-out stage (a stage with none is absent). */
  readonly stageProgress: (runId: string) => Effect.Effect<Readonly<Record<string, number>>, StorageError>
  /** Removes a run and its chunks (only used to undo a run that never became visible). */
  readonly deleteRun: (runId: string) => Effect.Effect<void, StorageError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export const RunTable = Context.GenericTag<RunTable>("@phs/core/RunTable")

/**
 * Whether every chunk is settled and nothing slow is pending: the catalog may run.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isSettled = (run: RunRecord): boolean =>
  run.jobsCompleted + run.jobsFailed >= run.jobsTotal && run.slowPending === 0

/**
 * A chunk as split creates it: PENDING, never attempted.
 *
 * @since 0.1.0
 * @category constructors
 */
export const pendingChunk = (runId: string, start: number, count: number): ChunkRecord => ({
  runId,
  start,
  count,
  status: "PENDING",
  leaseUntil: null,
  attempts: 0,
  startedAt: null,
  finishedAt: null,
  outputKey: null,
  deferred: 0,
  error: null
})

/**
 * Error text as stored on a chunk: at most 1 KB.
 *
 * @since 0.1.0
 * @category constructors
 */
export const clipReason = (reason: string): string => (reason.length <= 1024 ? reason : `${reason.slice(0, 1021)}...`)

/**
 * An in-memory run table driven by Effect's `Clock`, for tests.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (): RunTable => {
  const runs = new Map<string, RunRecord>()
  const chunks = new Map<string, Map<number, ChunkRecord>>()
  const stageDone = new Map<string, Map<string, Set<number>>>()
  const run = (runId: string) =>
    Effect.suspend(() => {
      const r = runs.get(runId)
      return r === undefined ? Effect.fail(new RunNotFound({ runId })) : Effect.succeed(r)
    })
  const chunk = (runId: string, start: number) => chunks.get(runId)?.get(start)
  const update = (runId: string, now: number, patch: Partial<RunRecord>) => {
    const next = { ...runs.get(runId)!, ...patch, updatedAt: now }
    runs.set(runId, next)
    return next
  }
  const setChunk = (c: ChunkRecord) => chunks.get(c.runId)!.set(c.start, c)
  const settled = (c: ChunkRecord | undefined) => c === undefined || c.status === "COMPLETED" || c.status === "FAILED"
  return {
    createRun: (r, cs) =>
      Effect.sync(() => {
        const existing = runs.get(r.runId)
        if (existing !== undefined) return existing
        runs.set(r.runId, r)
        chunks.set(r.runId, new Map(cs.map((c) => [c.start, c])))
        return r
      }),
    getRun: (runId) => Effect.sync(() => Option.fromNullable(runs.get(runId))),
    listRuns: (options) =>
      Effect.sync(() =>
        [...runs.values()]
          .filter((r) => options?.survey === undefined || r.survey === options.survey)
          .sort((a, b) => b.createdAt - a.createdAt || a.runId.localeCompare(b.runId))
          .slice(0, options?.limit ?? Number.MAX_SAFE_INTEGER)
      ),
    listChunks: (runId) => Effect.sync(() => [...(chunks.get(runId)?.values() ?? [])].sort((a, b) => a.start - b.start)),
    claimChunk: (runId, start, leaseMs) =>
      Effect.gen(function* () {
        yield* run(runId)
        const now = yield* Clock.currentTimeMillis
        const c = chunk(runId, start)
        if (c === undefined) return yield* Effect.fail(new RunNotFound({ runId: `${runId} chunk ${start}` }))
        if (c.status === "COMPLETED" || c.status === "FAILED") return { _tag: "Settled", status: c.status } as const
        if (c.status === "IN_PROGRESS" && c.leaseUntil !== null && c.leaseUntil > now) return { _tag: "Busy", leaseUntil: c.leaseUntil } as const
        const attempt = c.attempts + 1
        setChunk({ ...c, status: "IN_PROGRESS", leaseUntil: now + leaseMs, attempts: attempt, startedAt: now })
        return { _tag: "Claimed", attempt } as const
      }),
    completeChunk: (runId, start, result) =>
      Effect.gen(function* () {
        const r = yield* run(runId)
        const now = yield* Clock.currentTimeMillis
        const c = chunk(runId, start)
        if (settled(c)) return { applied: false, run: r }
        setChunk({ ...c!, status: "COMPLETED", leaseUntil: null, finishedAt: now, outputKey: result.outputKey, deferred: result.deferred, error: null })
        const next = update(runId, now, {
          jobsCompleted: r.jobsCompleted + 1,
          spectraDone: r.spectraDone + result.spectra - result.deferred,
          spectraDeferred: r.spectraDeferred + result.deferred,
          slowPending: r.slowPending + result.deferred
        })
        return { applied: true, run: next }
      }),
    failChunk: (runId, start, reason) =>
      Effect.gen(function* () {
        const r = yield* run(runId)
        const now = yield* Clock.currentTimeMillis
        const c = chunk(runId, start)
        if (settled(c)) return { applied: false, run: r }
        setChunk({ ...c!, status: "FAILED", leaseUntil: null, finishedAt: now, error: clipReason(reason) })
        return { applied: true, run: update(runId, now, { jobsFailed: r.jobsFailed + 1 }) }
      }),
    noteChunkError: (runId, start, reason) =>
      Effect.sync(() => {
        const c = chunk(runId, start)
        if (c !== undefined) setChunk({ ...c, error: clipReason(reason), leaseUntil: c.status === "IN_PROGRESS" ? null : c.leaseUntil })
      }),
    settleSlow: (runId, start) =>
      Effect.gen(function* () {
        const r = yield* run(runId)
        const now = yield* Clock.currentTimeMillis
        const c = chunk(runId, start)
        if (c === undefined || c.deferred === 0) return { applied: false, run: r }
        setChunk({ ...c, deferred: 0 })
        return { applied: true, run: update(runId, now, { slowPending: r.slowPending - c.deferred, spectraDone: r.spectraDone + c.deferred }) }
      }),
    transition: (runId, from, to, reason) =>
      Effect.gen(function* () {
        const r = yield* run(runId)
        const now = yield* Clock.currentTimeMillis
        if (!from.includes(r.status)) return { applied: false, run: r }
        return { applied: true, run: update(runId, now, { status: to, reason: reason ?? r.reason }) }
      }),
    reopenFailed: (runId) =>
      Effect.gen(function* () {
        const r = yield* run(runId)
        const now = yield* Clock.currentTimeMillis
        const failed = [...(chunks.get(runId)?.values() ?? [])].filter((c) => c.status === "FAILED")
        if (failed.length === 0) return { applied: false, run: r, reopened: 0 }
        for (const c of failed) setChunk({ ...c, status: "PENDING", leaseUntil: null, finishedAt: null })
        const next = update(runId, now, {
          jobsFailed: r.jobsFailed - failed.length,
          ...(r.status === "FAILED" ? { status: "RUNNING" as const, reason: null } : {})
        })
        return { applied: true, run: next, reopened: failed.length }
      }),
    completeStageChunk: (runId, stage, start) =>
      Effect.gen(function* () {
        yield* run(runId)
        const byStage = stageDone.get(runId) ?? new Map<string, Set<number>>()
        stageDone.set(runId, byStage)
        const done = byStage.get(stage) ?? new Set<number>()
        byStage.set(stage, done)
        const applied = !done.has(start)
        done.add(start)
        return { applied, completed: done.size }
      }),
    stageProgress: (runId) =>
      Effect.sync(() => Object.fromEntries([...(stageDone.get(runId)?.entries() ?? [])].map(([stage, done]) => [stage, done.size]))),
    deleteRun: (runId) =>
      Effect.sync(() => {
        runs.delete(runId)
        chunks.delete(runId)
        stageDone.delete(runId)
      })
  }
}

/**
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<RunTable> = Layer.sync(RunTable, makeMemory)
