/**
 * Integrity of published results: catalog records each part's size, SHA-256 and row count in
 * the run's `_validation.json`; `verifyParts` (one run) and `verifySurvey` (every completed
 * run of a survey, plus files in the partition that no run published) read the parts back
 * and name what is missing, truncated, altered or extra (docs/results.md, "Integrity").
 *
 * @since 0.2.0
 */
import { Effect, Option, Schema } from "effect"
import { createHash } from "node:crypto"
import { BlobStore } from "./BlobStore.js"
import { RunNotFound, StorageError } from "./Errors.js"
import * as Keys from "./Keys.js"
import { RunTable } from "./RunTable.js"

/**
 * One published part as catalog wrote it.
 *
 * @since 0.2.0
 * @category models
 */
export const PartRecord = Schema.Struct({
  key: Schema.String,
  bytes: Schema.Int,
  sha256: Schema.String,
  rows: Schema.Int
})
export type PartRecord = typeof PartRecord.Type

/**
 * A damaged blob: the key and what is wrong with it, in one line.
 *
 * @since 0.2.0
 * @category models
 */
export const Damage = Schema.Struct({ key: Schema.String, reason: Schema.String })
export type Damage = typeof Damage.Type

/**
 * What a run's check found. `unpublished`: the run is not COMPLETED, so it has no parts to
 * check; `unrecorded`: it was cataloged before parts were recorded, so only their presence is
 * checked.
 *
 * @since 0.2.0
 * @category models
 */
export const RunCheck = Schema.Struct({
  runId: Schema.String,
  survey: Schema.String,
  state: Schema.Literal("ok", "damaged", "unrecorded", "unpublished"),
  parts: Schema.Array(PartRecord),
  damaged: Schema.Array(Damage)
})
export type RunCheck = typeof RunCheck.Type

/**
 * @since 0.2.0
 * @category models
 */
export const SurveyCheck = Schema.Struct({
  survey: Schema.String,
  runs: Schema.Array(RunCheck),
  /** Files in the survey's partition that no completed run published (a table scan reads them). */
  strays: Schema.Array(Damage)
})
export type SurveyCheck = typeof SurveyCheck.Type

/**
 * Published results found damaged (exit 1 in the CLI).
 *
 * @since 0.2.0
 * @category errors
 */
export class PartsDamaged extends Schema.TaggedError<PartsDamaged>()("PartsDamaged", { reason: Schema.String }) {
  get retryable(): boolean {
    return false
  }
  override get message(): string {
    return this.reason
  }
}

/** The name of the record in a run's metadata (`Keys.runMeta`). */
export const VALIDATION_FILE = "_validation.json"

/** Bytes hashed per read: memory stays flat in the part's size. */
const HASH_READ_BYTES = 8 * 1024 * 1024

const RecordedParts = Schema.parseJson(Schema.Struct({ parts: Schema.optional(Schema.Array(Schema.Unknown)) }))
const decodeParts = Schema.decodeUnknownOption(Schema.Array(PartRecord))

/**
 * The parts recorded for a run: none when the record predates part records, a damage when
 * the record itself is missing or unreadable.
 */
const recordedParts = (runId: string): Effect.Effect<Option.Option<ReadonlyArray<PartRecord>> | Damage, StorageError, BlobStore> =>
  Effect.gen(function* () {
    const store = yield* BlobStore
    const key = Keys.runMeta(runId, VALIDATION_FILE)
    const bytes = yield* Effect.catchTag(store.get(key), "BlobNotFound", () => Effect.succeed(null))
    if (bytes === null) return { key, reason: "missing" }
    const record = Schema.decodeUnknownOption(RecordedParts)(new TextDecoder().decode(bytes))
    if (Option.isNone(record)) return { key, reason: "unreadable (not the JSON catalog wrote)" }
    if (record.value.parts === undefined || record.value.parts.every((p) => typeof p === "string")) return Option.none()
    const parts = decodeParts(record.value.parts)
    return Option.isNone(parts) ? { key, reason: "unreadable part records" } : Option.some(parts.value)
  })

/**
 * Size and SHA-256 of a blob, read in pieces; none when it is missing.
 *
 * @since 0.2.0
 * @category utils
 */
export const digest = (key: string): Effect.Effect<Option.Option<{ readonly bytes: number; readonly sha256: string }>, StorageError, BlobStore> =>
  Effect.gen(function* () {
    const store = yield* BlobStore
    const size = yield* store.size(key)
    if (Option.isNone(size)) return Option.none()
    const hash = createHash("sha256")
    for (let offset = 0; offset < size.value; offset += HASH_READ_BYTES) {
      const piece = yield* Effect.catchTag(store.getRange(key, offset, Math.min(HASH_READ_BYTES, size.value - offset)), "BlobNotFound", () =>
        Effect.succeed(new Uint8Array(0))
      )
      hash.update(piece)
    }
    return Option.some({ bytes: size.value, sha256: hash.digest("hex") })
  })

/**
 * How a check learns a blob's size and SHA-256: `digest` reads it back; a caller that knows
 * the blob unchanged since it last read it (the CLI's query check) may answer from memory.
 *
 * @since 0.3.0
 * @category models
 */
export type Digest = typeof digest

/**
 * What is wrong with one recorded part, if anything.
 *
 * @since 0.2.0
 * @category utils
 */
export const checkPart = (part: PartRecord, digestOf: Digest = digest): Effect.Effect<Option.Option<Damage>, StorageError, BlobStore> =>
  Effect.map(digestOf(part.key), (found) => {
    if (Option.isNone(found)) return Option.some({ key: part.key, reason: "missing" })
    if (found.value.bytes !== part.bytes) return Option.some({ key: part.key, reason: `${found.value.bytes} bytes, ${part.bytes} recorded` })
    if (found.value.sha256 !== part.sha256) return Option.some({ key: part.key, reason: "content changed (SHA-256 differs from the record)" })
    return Option.none()
  })

/** The run's files in its partition (`<runId>-NNNN.parquet`, and anything else it prefixes). */
const runFiles = (survey: string, runId: string) =>
  Effect.flatMap(BlobStore, (store) => store.list(`${Keys.surveyPartition(survey)}${runId}-`))

const checkRun = (run: { readonly runId: string; readonly survey: string; readonly status: string }, digestOf: Digest = digest) =>
  Effect.gen(function* () {
    const base = { runId: run.runId, survey: run.survey }
    if (run.status !== "COMPLETED") return { ...base, state: "unpublished" as const, parts: [], damaged: [] }
    const recorded = yield* recordedParts(run.runId)
    const present = yield* runFiles(run.survey, run.runId)
    if (!Option.isOption(recorded)) return { ...base, state: "damaged" as const, parts: [], damaged: [recorded] }
    if (Option.isNone(recorded)) {
      const damaged = present.length === 0 ? [{ key: `${Keys.surveyPartition(run.survey)}${run.runId}-*`, reason: "no parts left" }] : []
      return { ...base, state: damaged.length > 0 ? ("damaged" as const) : ("unrecorded" as const), parts: [], damaged }
    }
    const damaged: Damage[] = []
    for (const part of recorded.value) {
      const problem = yield* checkPart(part, digestOf)
      if (Option.isSome(problem)) damaged.push(problem.value)
    }
    const known = new Set(recorded.value.map((p) => p.key))
    for (const key of present) if (!known.has(key)) damaged.push({ key, reason: "not a part this run published" })
    return { ...base, state: damaged.length > 0 ? ("damaged" as const) : ("ok" as const), parts: recorded.value, damaged }
  })

/**
 * Checks a run's published parts against its record: each must exist with the recorded size
 * and SHA-256, and no other file may carry the run's part prefix. `options.digest`: how the
 * parts are hashed (default `digest`, reading each back).
 *
 * @since 0.2.0
 * @category verification
 */
export const verifyParts = (
  runId: string,
  options: { readonly digest?: Digest } = {}
): Effect.Effect<RunCheck, StorageError | RunNotFound, BlobStore | RunTable> =>
  Effect.gen(function* () {
    const run = yield* Effect.flatMap(RunTable, (t) => t.getRun(runId))
    if (Option.isNone(run)) return yield* new RunNotFound({ runId })
    return yield* checkRun(run.value, options.digest)
  })

/**
 * Checks every completed run of a survey, and names the files in the survey's partition
 * that none of them published (a table scan would read them as rows).
 *
 * @since 0.2.0
 * @category verification
 */
export const verifySurvey = (survey: string): Effect.Effect<SurveyCheck, StorageError, BlobStore | RunTable> =>
  Effect.gen(function* () {
    const store = yield* BlobStore
    const runs = yield* Effect.flatMap(RunTable, (t) => t.listRuns({ survey }))
    const checks: RunCheck[] = []
    for (const run of runs) checks.push(yield* checkRun(run))
    const published = new Set(checks.flatMap((c) => [...c.parts.map((p) => p.key)]))
    const unrecorded = checks.filter((c) => c.state === "unrecorded").map((c) => `${Keys.surveyPartition(survey)}${c.runId}-`)
    const flagged = new Set(checks.flatMap((c) => c.damaged.map((d) => d.key)))
    const strays: Damage[] = []
    for (const key of yield* store.list(Keys.surveyPartition(survey))) {
      if (published.has(key) || flagged.has(key) || unrecorded.some((prefix) => key.startsWith(prefix))) continue
      strays.push({ key, reason: "not a part of any completed run" })
    }
    return { survey, runs: checks, strays }
  })

/**
 * Whether a check found nothing wrong.
 *
 * @since 0.2.0
 * @category utils
 */
export const isIntact = (check: RunCheck | SurveyCheck): boolean =>
  "strays" in check ? check.strays.length === 0 && check.runs.every((r) => r.damaged.length === 0) : check.damaged.length === 0
