/**
 * catalog: once every chunk is settled and no slow work is pending, compact the per-chunk
 * files into a few large parts named by the run id, write `_stage_config.json` and
 * `_validation.json`, register the survey's partition, and end the run COMPLETED (or
 * FAILED with the reason when a check fails). Idempotent: every effect is a step with a
 * deterministic result.
 *
 * @since 0.1.0
 */
import { Clock, Config, Effect, Option, Schema, Stream } from "effect"
import { createHash } from "node:crypto"
import { BlobStore } from "../BlobStore.js"
import { Catalog, RESULT_DATABASE, RESULT_TABLE } from "../Catalog.js"
import { RunNotFound } from "../Errors.js"
import { releaseWhole } from "../internal/release.js"
import * as Keys from "../Keys.js"
import * as PartIntegrity from "../PartIntegrity.js"
import * as ResultColumns from "../ResultColumns.js"
import * as ResultParquet from "../ResultParquet.js"
import * as RowBatch from "../RowBatch.js"
import { RunTable } from "../RunTable.js"
import * as Stage from "../Stage.js"
import * as Step from "../Step.js"
import { cubeWcsSummary } from "../wcs/WorldColumns.js"
import * as CatalogStats from "./CatalogStats.js"
import { CatalogInput } from "./Tasks.js"

/** Rows per compacted part (~50–100 MB of Parquet). */
export const ROWS_PER_PART = Keys.ROWS_PER_PART

const RunSummary = Schema.Struct({
  runId: Schema.String,
  survey: Schema.String,
  cubeKey: Schema.String,
  hdu: Schema.optional(Schema.Int),
  nSpectra: Schema.Int,
  chunkSize: Schema.Int,
  createdAt: Schema.Number,
  params: Schema.Record({ key: Schema.String, value: Schema.Number }),
  codeVersion: Schema.String,
  chunkKeys: Schema.Array(Schema.String),
  failedChunks: Schema.Array(Schema.Struct({ start: Schema.Int, error: Schema.NullOr(Schema.String) })),
  fit: Schema.Struct({
    firstStartedAt: Schema.NullOr(Schema.Number),
    lastFinishedAt: Schema.NullOr(Schema.Number),
    attempts: Schema.Int,
    spectraDeferred: Schema.Int
  })
})
type RunSummary = typeof RunSummary.Type

const present = (xs: ReadonlyArray<number | null>) => xs.filter((x): x is number => x !== null)
const minOrNull = (xs: ReadonlyArray<number | null>) => (present(xs).length > 0 ? Math.min(...present(xs)) : null)
const maxOrNull = (xs: ReadonlyArray<number | null>) => (present(xs).length > 0 ? Math.max(...present(xs)) : null)
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

const beginStep = Step.make({
  name: "begin",
  input: CatalogInput,
  output: RunSummary,
  run: ({ runId, resultsFrom }) =>
    Effect.gen(function* () {
      const table = yield* RunTable
      const { run } = yield* table.transition(runId, ["RUNNING"], "CATALOGING")
      const chunks = yield* table.listChunks(runId)
      return {
        runId,
        survey: run.survey,
        cubeKey: run.cubeKey,
        ...(run.hdu === undefined ? {} : { hdu: run.hdu }),
        nSpectra: run.nSpectra,
        chunkSize: run.chunkSize,
        createdAt: run.createdAt,
        params: run.params,
        codeVersion: run.codeVersion,
        // The last fan-out stage's rows replace the fit's (`resultsFrom`).
        chunkKeys: chunks.flatMap((c) =>
          c.status !== "COMPLETED" || c.outputKey === null ? [] : [resultsFrom === undefined ? c.outputKey : Keys.stageResult(runId, resultsFrom, c.start)]
        ),
        failedChunks: chunks.filter((c) => c.status !== "COMPLETED").map((c) => ({ start: c.start, error: c.error ?? `chunk ${c.status}` })),
        fit: {
          firstStartedAt: minOrNull(chunks.map((c) => c.startedAt)),
          lastFinishedAt: maxOrNull(chunks.map((c) => c.finishedAt)),
          attempts: chunks.reduce((a, c) => a + c.attempts, 0),
          spectraDeferred: run.spectraDeferred
        }
      }
    })
})

/** The chunk results' rows in order, as batches: one decoded chunk at a time. */
const batchCursor = (store: BlobStore, chunkKeys: ReadonlyArray<string>) => {
  let next = 0
  let batch: RowBatch.RowBatch = { rows: 0, columns: [] }
  let at = 0
  /** Whether a row is left (loading the next non-empty chunk when needed). */
  const more = Effect.gen(function* () {
    while (at >= batch.rows && next < chunkKeys.length) {
      // The moved rows are copies: a chunk's bytes and columns are freed once read through.
      RowBatch.release(batch)
      batch = { rows: 0, columns: [] }
      const bytes = yield* store.get(chunkKeys[next++])
      batch = yield* ResultColumns.decodeBatch(bytes)
      releaseWhole([bytes])
      at = 0
    }
    return at < batch.rows
  })
  /** Moves up to `n` rows (at most `into.room()`) into `into`. */
  const fill = (into: RowBatch.Builder, n: number) =>
    Effect.gen(function* () {
      const stop = into.rows() + Math.min(n, into.room())
      while (into.rows() < stop && (yield* more)) {
        const end = Math.min(batch.rows, at + stop - into.rows())
        into.append(batch, at, end)
        at = end
      }
    })
  return { more, fill }
}

/**
 * The compacted parts of a run, each streamed to the store as its row groups fill: the rows
 * move from the chunk results into the parts as columns (`RowBatch`), never as row objects,
 * and memory holds one chunk result and one row group, whatever the cube's size. The parts'
 * bytes depend only on the rows in chunk order, not on how they were chunked. `write` says
 * which parts are stored (a repair rewrites only the damaged ones; the others are encoded
 * and hashed, to reach the rows after them). Returns what `_validation.json` records.
 *
 * @since 0.2.0
 * @category compaction
 */
export const compactParts = (
  input: { readonly runId: string; readonly survey: string; readonly chunkKeys: ReadonlyArray<string>; readonly nx: number; readonly ny: number },
  write: (key: string) => boolean = () => true
) =>
  Effect.gen(function* () {
    const store = yield* BlobStore
    const stats = CatalogStats.collector(input)
    const cursor = batchCursor(store, input.chunkKeys)
    const group = RowBatch.builder(ResultParquet.ROW_GROUP_ROWS)
    const files: PartIntegrity.PartRecord[] = []
    // Zero rows still give one (empty) part, so the run's schema is always published.
    while (files.length === 0 || (yield* cursor.more)) {
      const key = Keys.resultPart(input.survey, input.runId, files.length)
      const writer = ResultParquet.makeWriter()
      const hash = createHash("sha256")
      let bytes = 0
      const groups = Stream.repeatEffectOption(
        Effect.suspend(() => {
          const room = Math.min(ResultParquet.ROW_GROUP_ROWS, ROWS_PER_PART - writer.rows())
          if (room <= 0) return Effect.fail(Option.none())
          group.reset()
          return cursor.fill(group, room).pipe(
            Effect.mapError(Option.some),
            Effect.flatMap(() => {
              if (group.rows() === 0) return Effect.fail(Option.none())
              const rows = group.batch()
              stats.add(rows)
              return Effect.succeed(writer.batch(rows))
            })
          )
        })
      )
      const body = Stream.concat(groups, Stream.sync(writer.finish)).pipe(
        Stream.tap((piece) =>
          Effect.sync(() => {
            hash.update(piece)
            bytes += piece.length
          })
        )
      )
      if (write(key)) yield* store.putStream(key, body)
      else yield* Stream.runDrain(body)
      files.push({ key, bytes, sha256: hash.digest("hex"), rows: writer.rows() })
    }
    return { files, stats: stats.done() }
  })

const CompactOutput = Schema.Struct({
  parts: Schema.Array(Schema.String),
  stats: CatalogStats.Stats,
  /** Absent in journals written before parts were recorded. */
  files: Schema.optional(Schema.Array(PartIntegrity.PartRecord))
})

const compactStep = Step.make({
  name: "compact",
  input: Schema.Struct({ runId: Schema.String, survey: Schema.String, chunkKeys: Schema.Array(Schema.String) }),
  output: CompactOutput,
  run: ({ runId, survey, chunkKeys }) =>
    Effect.gen(function* () {
      const store = yield* BlobStore
      const run = yield* Effect.flatMap(RunTable, (t) => t.getRun(runId))
      if (Option.isNone(run)) return yield* new RunNotFound({ runId })
      const { files, stats } = yield* compactParts({ runId, survey, chunkKeys, nx: run.value.nx, ny: run.value.ny })
      const parts = files.map((f) => f.key)
      // Parts of an earlier, larger compaction of this run would double rows: remove them.
      for (const key of yield* store.list(`${Keys.surveyPartition(survey)}${runId}-`)) {
        if (!parts.includes(key)) yield* store.remove(key)
      }
      return { parts, stats, files }
    })
})

/**
 * The checks of `_validation.json`; an empty list means the run is valid.
 *
 * @since 0.1.0
 * @category utils
 */
export const validationProblems = (summary: Pick<RunSummary, "nSpectra">, stats: CatalogStats.Stats): string[] => {
  const problems: string[] = []
  if (stats.rows !== summary.nSpectra) problems.push(`${stats.rows} rows for ${summary.nSpectra} spectra in the cube`)
  if (stats.duplicates > 0) problems.push(`${stats.duplicates} duplicate (x, y)`)
  if (stats.deferredLeft > 0) problems.push(`${stats.deferredLeft} spectra left with n_components = -1`)
  return problems
}

const metadataStep = Step.make({
  name: "write-metadata",
  // gitRevision is resolved outside the step (absent when unset, so older records still match).
  input: Schema.Struct({
    summary: RunSummary,
    parts: Schema.Array(Schema.String),
    stats: CatalogStats.Stats,
    gitRevision: Schema.optional(Schema.String),
    files: Schema.optional(Schema.Array(PartIntegrity.PartRecord))
  }),
  output: Schema.Struct({ problems: Schema.Array(Schema.String), catalogedAt: Schema.Number }),
  run: ({ summary, parts, stats, gitRevision, files }) =>
    Effect.gen(function* () {
      const store = yield* BlobStore
      const catalogedAt = yield* Clock.currentTimeMillis
      const problems = validationProblems(summary, stats)
      const wcs = yield* cubeWcsSummary(summary.cubeKey, summary.hdu)
      const json = (v: unknown) => new TextEncoder().encode(`${JSON.stringify(v, null, 2)}\n`)
      yield* store.put(
        Keys.runMeta(summary.runId, "_stage_config.json"),
        json({
          run_id: summary.runId,
          survey: summary.survey,
          cube_key: summary.cubeKey,
          ...(summary.hdu === undefined ? {} : { hdu: summary.hdu }),
          params: summary.params,
          wcs,
          code_version: summary.codeVersion,
          git_revision: gitRevision ?? null,
          created_at: new Date(summary.createdAt).toISOString(),
          cataloged_at: new Date(catalogedAt).toISOString(),
          counts: { spectra: summary.nSpectra, chunks: summary.chunkKeys.length + summary.failedChunks.length, rows: stats.rows, parts: parts.length },
          stages: {
            split: { created_at: iso(summary.createdAt), chunks: summary.chunkKeys.length + summary.failedChunks.length, chunk_size: summary.chunkSize },
            fit: {
              started_at: iso(summary.fit.firstStartedAt),
              finished_at: iso(summary.fit.lastFinishedAt),
              chunks_completed: summary.chunkKeys.length,
              chunks_failed: summary.failedChunks.length,
              attempts: summary.fit.attempts,
              timeout_ms: summary.params.timeout_ms ?? null
            },
            "slow-fit": { spectra: summary.fit.spectraDeferred },
            catalog: { cataloged_at: iso(catalogedAt), parts: parts.length, rows: stats.rows, rows_per_part: ROWS_PER_PART }
          },
          parts
        })
      )
      yield* store.put(
        Keys.runMeta(summary.runId, PartIntegrity.VALIDATION_FILE),
        json({ run_id: summary.runId, valid: problems.length === 0, problems, spectra_in_cube: summary.nSpectra, ...stats, ...(files === undefined ? {} : { parts: files }) })
      )
      return { problems, catalogedAt }
    })
})

const registerStep = Step.make({
  name: "register",
  input: Schema.Struct({ survey: Schema.String }),
  output: Schema.Struct({ location: Schema.String }),
  run: ({ survey }) =>
    Effect.gen(function* () {
      const catalog = yield* Catalog
      const location = Keys.surveyPartition(survey)
      yield* catalog.registerPartition({ database: RESULT_DATABASE, table: RESULT_TABLE, values: { survey }, location })
      return { location }
    })
})

const finishStep = Step.make({
  name: "finish",
  input: Schema.Struct({ runId: Schema.String, problems: Schema.Array(Schema.String), parts: Schema.Array(Schema.String) }),
  output: Schema.Struct({ status: Schema.String }),
  run: ({ runId, problems, parts }) =>
    Effect.gen(function* () {
      const table = yield* RunTable
      const store = yield* BlobStore
      // A run that fails its checks publishes nothing.
      if (problems.length > 0) for (const key of parts) yield* store.remove(key)
      const { run } = problems.length === 0
        ? yield* table.transition(runId, ["CATALOGING"], "COMPLETED")
        : yield* table.transition(runId, ["CATALOGING", "RUNNING"], "FAILED", problems.join("; "))
      return { status: run.status }
    })
})

/**
 * What a repair did: the parts rebuilt from the chunk results, and what could not be rebuilt
 * (to be recomputed), with the check after the repair.
 *
 * @since 0.2.0
 * @category models
 */
export const RepairOutcome = Schema.Struct({
  runId: Schema.String,
  rebuilt: Schema.Array(Schema.String),
  removed: Schema.Array(Schema.String),
  mustRecompute: Schema.Array(PartIntegrity.Damage),
  after: PartIntegrity.RunCheck
})
export type RepairOutcome = typeof RepairOutcome.Type

const sameRecord = (a: PartIntegrity.PartRecord, b: PartIntegrity.PartRecord) => a.key === b.key && a.bytes === b.bytes && a.sha256 === b.sha256 && a.rows === b.rows

/**
 * Rebuilds a completed run's damaged or missing parts from its chunk results, which
 * compaction turns into the same bytes again (checked against the record), and removes files
 * under the run's part prefix that it never published. When chunk results are gone or the
 * record itself is damaged, nothing is rebuilt and `mustRecompute` says what is lost.
 *
 * @since 0.2.0
 * @category repair
 */
export const repairParts = (runId: string) =>
  Effect.gen(function* () {
    const store = yield* BlobStore
    const table = yield* RunTable
    const before = yield* PartIntegrity.verifyParts(runId)
    const outcome = (rebuilt: ReadonlyArray<string>, removed: ReadonlyArray<string>, mustRecompute: ReadonlyArray<PartIntegrity.Damage>) =>
      Effect.map(PartIntegrity.verifyParts(runId), (after): RepairOutcome => ({ runId, rebuilt, removed, mustRecompute, after }))
    if (before.state !== "damaged") return yield* outcome([], [], [])
    const recorded = new Map(before.parts.map((p) => [p.key, p]))
    if (recorded.size === 0) return yield* outcome([], [], before.damaged)
    const removed = before.damaged.filter((d) => !recorded.has(d.key)).map((d) => d.key)
    for (const key of removed) yield* store.remove(key)
    const damaged = new Set(before.damaged.filter((d) => recorded.has(d.key)).map((d) => d.key))
    if (damaged.size === 0) return yield* outcome([], removed, [])
    const run = yield* table.getRun(runId)
    if (Option.isNone(run)) return yield* new RunNotFound({ runId })
    const chunkKeys = (yield* table.listChunks(runId)).flatMap((c) => (c.status === "COMPLETED" && c.outputKey !== null ? [c.outputKey] : []))
    const lost: PartIntegrity.Damage[] = []
    for (const key of chunkKeys) if (Option.isNone(yield* store.size(key))) lost.push({ key, reason: "chunk result gone" })
    if (lost.length > 0) return yield* outcome([], removed, lost)
    const rebuilt = yield* Effect.either(
      compactParts({ runId, survey: run.value.survey, chunkKeys, nx: run.value.nx, ny: run.value.ny }, (key) => damaged.has(key))
    )
    if (rebuilt._tag === "Left") {
      const e = rebuilt.left
      const key = e._tag === "BlobNotFound" ? e.key : e._tag === "StorageError" ? (e.key ?? "chunk results") : "chunk results"
      if (e._tag === "StorageError" && e.retryable) return yield* e
      return yield* outcome([], removed, [{ key, reason: `cannot rebuild from the chunk results: ${e.message}` }])
    }
    const differs = [...damaged].flatMap((key) => {
      const again = rebuilt.right.files.find((f) => f.key === key)
      return again !== undefined && sameRecord(again, recorded.get(key)!) ? [] : [{ key, reason: "rebuilt from the chunk results, but not the bytes recorded" }]
    })
    return yield* outcome([...damaged].filter((k) => !differs.some((d) => d.key === k)), removed, differs)
  })

/**
 * @since 0.1.0
 * @category models
 */
export const CatalogOutput = Schema.Struct({ status: Schema.String, parts: Schema.Array(Schema.String), problems: Schema.Array(Schema.String) })

/**
 * @since 0.1.0
 * @category stages
 */
export const catalog = Stage.make({
  name: "catalog",
  input: CatalogInput,
  output: CatalogOutput,
  run: (input) =>
    Effect.gen(function* () {
      const runId = input.runId
      const summary = yield* Step.run(beginStep, input)
      if (summary.failedChunks.length > 0) {
        const first = summary.failedChunks[0]
        const problems = [`${summary.failedChunks.length} chunk(s) failed; first at spectrum ${first.start}: ${first.error}`]
        const { status } = yield* Step.run(finishStep, { runId, problems, parts: [] })
        return { status, parts: [], problems }
      }
      const { parts, stats, files } = yield* Step.run(compactStep, { runId, survey: summary.survey, chunkKeys: summary.chunkKeys })
      const gitRevision = yield* Config.option(Config.string("PHS_GIT_REVISION")).pipe(Effect.orElseSucceed(() => Option.none<string>()))
      const { problems } = yield* Step.run(metadataStep, {
        summary,
        parts,
        stats,
        ...Option.match(gitRevision, { onNone: () => ({}), onSome: (r) => ({ gitRevision: r }) }),
        ...(files === undefined ? {} : { files })
      })
      if (problems.length === 0) yield* Step.run(registerStep, { survey: summary.survey })
      const { status } = yield* Step.run(finishStep, { runId, problems, parts })
      return { status, parts, problems }
    })
})
