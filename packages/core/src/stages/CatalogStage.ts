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
import * as Keys from "../Keys.js"
import * as PartIntegrity from "../PartIntegrity.js"
import type { DecompositionRow } from "../ResultSchema.js"
import * as ResultParquet from "../ResultParquet.js"
import { RunTable } from "../RunTable.js"
import * as Stage from "../Stage.js"
import * as Step from "../Step.js"
import { cubeWcsSummary } from "../wcs/WorldColumns.js"
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

/**
 * Accumulates the validation figures over rows as they stream past, in memory that does not
 * hold rows: (x, y) seen as one bit each over the cube's grid, and the rms values (8 bytes a
 * spectrum) for the exact median.
 */
const statsCollector = (grid: { readonly nx: number; readonly ny: number }) => {
  const seenBits = new Uint8Array(Math.ceil((grid.nx * grid.ny) / 8))
  const seenOutside = new Set<string>()
  let rmsValues = new Float64Array(1024)
  let rmsCount = 0
  const s = {
    rows: 0,
    duplicates: 0,
    deferredLeft: 0,
    blank: 0,
    nullCounts: { rms: 0, min_persistence: 0 } as Record<string, number>,
    nanCounts: { rms: 0, min_persistence: 0, beta: 0, component_amplitudes: 0, component_means: 0, component_stddevs: 0 } as Record<string, number>,
    componentHistogram: {} as Record<string, number>
  }
  /** Whether (x, y) was seen before; marks it seen. */
  const seenBefore = (x: number, y: number): boolean => {
    if (x < grid.nx && y < grid.ny) {
      const i = y * grid.nx + x
      const bit = 1 << (i & 7)
      const before = (seenBits[i >> 3] & bit) !== 0
      seenBits[i >> 3] |= bit
      return before
    }
    const key = `${x},${y}`
    const before = seenOutside.has(key)
    seenOutside.add(key)
    return before
  }
  const add = (r: DecompositionRow) => {
    s.rows++
    if (seenBefore(r.x, r.y)) s.duplicates++
    if (r.n_components === -1) s.deferredLeft++
    if (r.rms === null) {
      s.nullCounts.rms++
      s.blank++
    } else if (Number.isNaN(r.rms)) s.nanCounts.rms++
    else {
      if (rmsCount === rmsValues.length) {
        const grown = new Float64Array(rmsValues.length * 2)
        grown.set(rmsValues)
        rmsValues = grown
      }
      rmsValues[rmsCount++] = r.rms
    }
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
    const values = rmsValues.subarray(0, rmsCount).sort()
    const n = values.length
    let sum = 0
    for (let i = 0; i < n; i++) sum += values[i]
    return {
      ...s,
      rms: {
        min: n > 0 ? values[0] : null,
        median: n > 0 ? values[Math.floor((n - 1) / 2)] : null,
        mean: n > 0 ? sum / n : null,
        max: n > 0 ? values[n - 1] : null
      }
    }
  }
  return { add, done }
}

/** The rows of the chunk results in order, holding one decoded chunk at a time. */
const rowCursor = (store: BlobStore, chunkKeys: ReadonlyArray<string>) => {
  let next = 0
  let rows: ReadonlyArray<DecompositionRow> = []
  let at = 0
  /** Whether a row is left (loading the next non-empty chunk when needed). */
  const more = Effect.gen(function* () {
    while (at >= rows.length && next < chunkKeys.length) {
      rows = []
      rows = yield* ResultParquet.decodeRows(yield* store.get(chunkKeys[next++]))
      at = 0
    }
    return at < rows.length
  })
  const take = (n: number) =>
    Effect.gen(function* () {
      const out: DecompositionRow[] = []
      while (out.length < n && (yield* more)) {
        const end = Math.min(rows.length, at + n - out.length)
        for (; at < end; at++) out.push(rows[at])
      }
      return out
    })
  return { more, take }
}

/**
 * The compacted parts of a run, each streamed to the store as its row groups fill: memory
 * holds one chunk result and one row group, whatever the cube's size. `write` says which
 * parts are stored (a repair rewrites only the damaged ones; the others are encoded and
 * hashed, to reach the rows after them). Returns what `_validation.json` records.
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
    const stats = statsCollector(input)
    const cursor = rowCursor(store, input.chunkKeys)
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
          return cursor.take(room).pipe(
            Effect.mapError(Option.some),
            Effect.flatMap((rows) => {
              if (rows.length === 0) return Effect.fail(Option.none())
              for (const row of rows) stats.add(row)
              return Effect.succeed(writer.rowGroup(rows))
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
  stats: Stats,
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
  input: Schema.Struct({
    summary: RunSummary,
    parts: Schema.Array(Schema.String),
    stats: Stats,
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
