/**
 * catalog: once every chunk is settled and no slow work is pending, compact the per-chunk
 * files into a few large parts named by the run id, write `_stage_config.json` and
 * `_validation.json`, register the survey's partition, and end the run COMPLETED (or
 * FAILED with the reason when a check fails). Idempotent: every effect is a step with a
 * deterministic result.
 *
 * @since 0.1.0
 */
import { Clock, Config, Effect, Option, Schema } from "effect"
import { BlobStore } from "../BlobStore.js"
import { Catalog, RESULT_DATABASE, RESULT_TABLE } from "../Catalog.js"
import * as Keys from "../Keys.js"
import type { DecompositionRow } from "../ResultSchema.js"
import * as ResultParquet from "../ResultParquet.js"
import { RunTable } from "../RunTable.js"
import * as Stage from "../Stage.js"
import * as Step from "../Step.js"
import { cubeWcsSummary } from "../wcs/WorldColumns.js"
import { RunRef } from "./Tasks.js"

/** Rows per compacted part (~50–100 MB of Parquet). */
export const ROWS_PER_PART = Keys.ROWS_PER_PART

const RunSummary = Schema.Struct({
  runId: Schema.String,
  survey: Schema.String,
  cubeKey: Schema.String,
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

const Stats = Schema.Struct({
  rows: Schema.Int,
  duplicates: Schema.Int,
  deferredLeft: Schema.Int,
  blank: Schema.Int,
  nullCounts: Schema.Record({ key: Schema.String, value: Schema.Int }),
  nanCounts: Schema.Record({ key: Schema.String, value: Schema.Int }),
  componentHistogram: Schema.Record({ key: Schema.String, value: Schema.Int }),
  rms: Schema.Struct({ min: Schema.NullOr(Schema.Number), median: Schema.NullOr(Schema.Number), mean: Schema.NullOr(Schema.Number), max: Schema.NullOr(Schema.Number) })
})
type Stats = typeof Stats.Type

const present = (xs: ReadonlyArray<number | null>) => xs.filter((x): x is number => x !== null)
const minOrNull = (xs: ReadonlyArray<number | null>) => (present(xs).length > 0 ? Math.min(...present(xs)) : null)
const maxOrNull = (xs: ReadonlyArray<number | null>) => (present(xs).length > 0 ? Math.max(...present(xs)) : null)
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

const beginStep = Step.make({
  name: "begin",
  input: RunRef,
  output: RunSummary,
  run: ({ runId }) =>
    Effect.gen(function* () {
      const table = yield* RunTable
      const { run } = yield* table.transition(runId, ["RUNNING"], "CATALOGING")
      const chunks = yield* table.listChunks(runId)
      return {
        runId,
        survey: run.survey,
        cubeKey: run.cubeKey,
        nSpectra: run.nSpectra,
        chunkSize: run.chunkSize,
        createdAt: run.createdAt,
        params: run.params,
        codeVersion: run.codeVersion,
        chunkKeys: chunks.flatMap((c) => (c.status === "COMPLETED" && c.outputKey !== null ? [c.outputKey] : [])),
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

/** Accumulates the validation figures over rows as they stream past. */
const statsCollector = () => {
  const seen = new Set<number>()
  const rmsValues: number[] = []
  const s = {
    rows: 0,
    duplicates: 0,
    deferredLeft: 0,
    blank: 0,
    nullCounts: { rms: 0, min_persistence: 0 } as Record<string, number>,
    nanCounts: { rms: 0, min_persistence: 0, beta: 0, component_amplitudes: 0, component_means: 0, component_stddevs: 0 } as Record<string, number>,
    componentHistogram: {} as Record<string, number>
  }
  const add = (r: DecompositionRow) => {
    s.rows++
    const key = r.y * 1_000_003 + r.x
    if (seen.has(key)) s.duplicates++
    seen.add(key)
    if (r.n_components === -1) s.deferredLeft++
    if (r.rms === null) {
      s.nullCounts.rms++
      s.blank++
    } else if (Number.isNaN(r.rms)) s.nanCounts.rms++
    else rmsValues.push(r.rms)
    if (r.min_persistence === null) s.nullCounts.min_persistence++
    else if (Number.isNaN(r.min_persistence)) s.nanCounts.min_persistence++
    if (Number.isNaN(r.beta)) s.nanCounts.beta++
    for (const col of ["component_amplitudes", "component_means", "component_stddevs"] as const) {
      if (r[col].some((v) => Number.isNaN(v))) s.nanCounts[col]++
    }
    const k = String(r.n_components)
    s.componentHistogram[k] = (s.componentHistogram[k] ?? 0) + 1
  }
  const done = (): Stats => {
    rmsValues.sort((a, b) => a - b)
    const n = rmsValues.length
    return {
      ...s,
      rms: {
        min: n > 0 ? rmsValues[0] : null,
        median: n > 0 ? rmsValues[Math.floor((n - 1) / 2)] : null,
        mean: n > 0 ? rmsValues.reduce((a, b) => a + b, 0) / n : null,
        max: n > 0 ? rmsValues[n - 1] : null
      }
    }
  }
  return { add, done }
}

const compactStep = Step.make({
  name: "compact",
  input: Schema.Struct({ runId: Schema.String, survey: Schema.String, chunkKeys: Schema.Array(Schema.String) }),
  output: Schema.Struct({ parts: Schema.Array(Schema.String), stats: Stats }),
  run: ({ runId, survey, chunkKeys }) =>
    Effect.gen(function* () {
      const store = yield* BlobStore
      const stats = statsCollector()
      const parts: string[] = []
      let pending: DecompositionRow[] = []
      const flush = Effect.suspend(() => {
        const key = Keys.resultPart(survey, runId, parts.length)
        parts.push(key)
        const rows = pending
        pending = []
        return store.put(key, ResultParquet.encodeRows(rows))
      })
      for (const key of chunkKeys) {
        for (const row of yield* ResultParquet.decodeRows(yield* store.get(key))) {
          stats.add(row)
          pending.push(row)
          if (pending.length >= ROWS_PER_PART) yield* flush
        }
      }
      if (pending.length > 0 || parts.length === 0) yield* flush
      // Parts of an earlier, larger compaction of this run would double rows: remove them.
      for (const key of yield* store.list(`${Keys.surveyPartition(survey)}${runId}-`)) {
        if (!parts.includes(key)) yield* store.remove(key)
      }
      return { parts, stats: stats.done() }
    })
})

/**
 * The checks of `_validation.json`; an empty list means the run is valid.
 *
 * @since 0.1.0
 * @category utils
 */
export const validationProblems = (summary: Pick<RunSummary, "nSpectra">, stats: Stats): string[] => {
  const problems: string[] = []
  if (stats.rows !== summary.nSpectra) problems.push(`${stats.rows} rows for ${summary.nSpectra} spectra in the cube`)
  if (stats.duplicates > 0) problems.push(`${stats.duplicates} duplicate (x, y)`)
  if (stats.deferredLeft > 0) problems.push(`${stats.deferredLeft} spectra left with n_components = -1`)
  return problems
}

const metadataStep = Step.make({
  name: "write-metadata",
  // gitRevision is resolved outside the step (absent when unset, so older records still match).
  input: Schema.Struct({ summary: RunSummary, parts: Schema.Array(Schema.String), stats: Stats, gitRevision: Schema.optional(Schema.String) }),
  output: Schema.Struct({ problems: Schema.Array(Schema.String), catalogedAt: Schema.Number }),
  run: ({ summary, parts, stats, gitRevision }) =>
    Effect.gen(function* () {
      const store = yield* BlobStore
      const catalogedAt = yield* Clock.currentTimeMillis
      const problems = validationProblems(summary, stats)
      const wcs = yield* cubeWcsSummary(summary.cubeKey)
      const json = (v: unknown) => new TextEncoder().encode(`${JSON.stringify(v, null, 2)}\n`)
      yield* store.put(
        Keys.runMeta(summary.runId, "_stage_config.json"),
        json({
          run_id: summary.runId,
          survey: summary.survey,
          cube_key: summary.cubeKey,
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
        Keys.runMeta(summary.runId, "_validation.json"),
        json({ run_id: summary.runId, valid: problems.length === 0, problems, spectra_in_cube: summary.nSpectra, ...stats })
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
  input: RunRef,
  output: CatalogOutput,
  run: ({ runId }) =>
    Effect.gen(function* () {
      const summary = yield* Step.run(beginStep, { runId })
      if (summary.failedChunks.length > 0) {
        const first = summary.failedChunks[0]
        const problems = [`${summary.failedChunks.length} chunk(s) failed; first at spectrum ${first.start}: ${first.error}`]
        const { status } = yield* Step.run(finishStep, { runId, problems, parts: [] })
        return { status, parts: [], problems }
      }
      const { parts, stats } = yield* Step.run(compactStep, { runId, survey: summary.survey, chunkKeys: summary.chunkKeys })
      const gitRevision = yield* Config.option(Config.string("PHS_GIT_REVISION")).pipe(Effect.orElseSucceed(() => Option.none<string>()))
      const { problems } = yield* Step.run(metadataStep, { summary, parts, stats, ...Option.match(gitRevision, { onNone: () => ({}), onSome: (r) => ({ gitRevision: r }) }) })
      if (problems.length === 0) yield* Step.run(registerStep, { survey: summary.survey })
      const { status } = yield* Step.run(finishStep, { runId, problems, parts })
      return { status, parts, problems }
    })
})
