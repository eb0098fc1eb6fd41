/**
 * The step journal in SQLite: table `journal`, keyed by (run, stage, scope, step, input
 * hash). `record` inserts if absent and returns the row that stands, so when two processes
 * race on a step the first record wins for both.
 *
 * @since 0.1.0
 */
import { Errors, Journal } from "@phs/core"
import { Effect, Layer, Option } from "effect"
import { Sqlite } from "./Sqlite.js"

interface Row {
  readonly run_id: string
  readonly stage: string
  readonly scope: string
  readonly step: string
  readonly input_hash: string
  readonly seq: number
  readonly output: string
  readonly recorded_at: number
}

type Key = [runId: string, stage: string, scope: string, step: string, inputHash: string]

const toEntry = (r: Row): Journal.JournalEntry => ({
  runId: r.run_id,
  stage: r.stage,
  scope: r.scope,
  step: r.step,
  inputHash: r.input_hash,
  seq: r.seq,
  output: r.output,
  recordedAt: r.recorded_at
})

const keyOf = (c: Omit<Journal.StepCall, "seq">): Key => [c.runId, c.stage, c.scope, c.step, c.inputHash]

/**
 * A journal over the shared SQLite connection.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Journal.Journal, Errors.StorageError, Sqlite> = Effect.gen(function* () {
  const sql = yield* Sqlite
  const s = yield* sql.use("prepare journal", (db) => ({
    insert: db.prepare(
      `INSERT INTO journal (run_id, stage, scope, step, input_hash, seq, output, recorded_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (run_id, stage, scope, step, input_hash) DO NOTHING`
    ),
    get: db.prepare<Key, Row>(
      `SELECT * FROM journal WHERE run_id = ? AND stage = ? AND scope = ? AND step = ? AND input_hash = ?`
    ),
    entries: db.prepare<[string], Row>(`SELECT * FROM journal WHERE run_id = ?`)
  }))
  return Journal.Journal.of({
    lookup: (call) => sql.use("journal lookup", () => Option.map(Option.fromNullable(s.get.get(...keyOf(call))), toEntry)),
    record: (entry) =>
      sql.transaction("journal record", () => {
        s.insert.run(...keyOf(entry), entry.seq, entry.output, entry.recordedAt)
        return toEntry(s.get.get(...keyOf(entry))!)
      }),
    entries: (runId) => sql.use("journal entries", () => s.entries.all(runId).map(toEntry).sort(Journal.compareEntries))
  })
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Journal.Journal, Errors.StorageError, Sqlite> = Layer.effect(Journal.Journal, make)
