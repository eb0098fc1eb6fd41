/**
 * The one SQLite database of a local workdir (`<workdir>/phs.sqlite`) that holds the run
 * table, the journal, the queues and the catalog. Several processes may open it at once (a
 * `phs status` while `phs pipeline` runs, a run resumed after a crash): it runs in WAL mode
 * with a busy timeout, and every conditional write is one immediate transaction.
 *
 * @since 0.1.0
 */
import { Errors } from "@phs/core"
import Database from "better-sqlite3"
import { Context, Effect, Layer, type Scope } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { makeDirsSync } from "./Dirs.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Sqlite {
  /** The database file. */
  readonly file: string
  /** The open connection, for preparing statements. */
  readonly db: Database.Database
  /** Runs `f` on the connection; a thrown error becomes a `StorageError`. */
  readonly use: <A>(operation: string, f: (db: Database.Database) => A) => Effect.Effect<A, Errors.StorageError>
  /** Runs `f` in one immediate (write-locking) transaction; a thrown error rolls it back. */
  readonly transaction: <A>(operation: string, f: (db: Database.Database) => A) => Effect.Effect<A, Errors.StorageError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export const Sqlite = Context.GenericTag<Sqlite>("@phs/runtime-local/Sqlite")

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The directory holding `phs.sqlite`; created if missing. */
  readonly workdir: string
  /** How long a write waits for another connection's lock before failing (retryable). Default 5 s. */
  readonly busyTimeoutMs?: number
}

/**
 * The database file name inside a workdir.
 *
 * @since 0.1.0
 * @category constants
 */
export const FILE_NAME = "phs.sqlite"

/**
 * The schema, one migration per version (`PRAGMA user_version` counts those applied).
 * Append only: a released migration never changes.
 *
 * @since 0.1.0
 * @category constants
 */
export const migrations: ReadonlyArray<string> = [
  `
  CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    survey TEXT NOT NULL,
    cube_key TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    params TEXT NOT NULL,
    code_version TEXT NOT NULL,
    nx INTEGER NOT NULL,
    ny INTEGER NOT NULL,
    n_channels INTEGER NOT NULL,
    chunk_size INTEGER NOT NULL,
    n_spectra INTEGER NOT NULL,
    jobs_total INTEGER NOT NULL,
    jobs_completed INTEGER NOT NULL,
    jobs_failed INTEGER NOT NULL,
    spectra_done INTEGER NOT NULL,
    spectra_deferred INTEGER NOT NULL,
    slow_pending INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason TEXT
  );
  CREATE INDEX IF NOT EXISTS runs_by_survey ON runs (survey, created_at);
  CREATE TABLE IF NOT EXISTS chunks (
    run_id TEXT NOT NULL,
    start INTEGER NOT NULL,
    count INTEGER NOT NULL,
    status TEXT NOT NULL,
    lease_until INTEGER,
    attempts INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    output_key TEXT,
    deferred INTEGER NOT NULL,
    error TEXT,
    PRIMARY KEY (run_id, start)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS stage_chunks (
    run_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    start INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    PRIMARY KEY (run_id, stage, start)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS journal (
    run_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    scope TEXT NOT NULL,
    step TEXT NOT NULL,
    input_hash TEXT NOT NULL,
    seq INTEGER NOT NULL,
    output TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (run_id, stage, scope, step, input_hash)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS queue_messages (
    seq INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL,
    receipt TEXT,
    UNIQUE (queue, id)
  );
  CREATE INDEX IF NOT EXISTS queue_messages_visible ON queue_messages (queue, visible_at);
  CREATE UNIQUE INDEX IF NOT EXISTS queue_messages_receipt ON queue_messages (queue, receipt);
  CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    receive_count INTEGER NOT NULL,
    reason TEXT NOT NULL,
    dead_at INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS dead_letters_by_queue ON dead_letters (queue, seq);
  CREATE TABLE IF NOT EXISTS catalog_partitions (
    seq INTEGER PRIMARY KEY,
    database_name TEXT NOT NULL,
    table_name TEXT NOT NULL,
    partition_id TEXT NOT NULL,
    partition_values TEXT NOT NULL,
    location TEXT NOT NULL,
    UNIQUE (database_name, table_name, partition_id)
  );
  `,
  // the HDU a run reads its cube from, when --hdu named one (NULL: the first 3-D image)
  `ALTER TABLE runs ADD COLUMN hdu INTEGER;`,
  // the --refit mode a run composes its pipeline with, when not none (NULL: none)
  `ALTER TABLE runs ADD COLUMN refit TEXT;`,
  // the cube's identity and size at the split (BlobStore.stat; NULL: a run recorded before them)
  `ALTER TABLE runs ADD COLUMN cube_etag TEXT; ALTER TABLE runs ADD COLUMN cube_size INTEGER;`,
  // the file name the cube was started from, for people (NULL: a run recorded before it)
  `ALTER TABLE runs ADD COLUMN cube_name TEXT;`
]

const isRetryableSqlite = (error: unknown): boolean => {
  const code = typeof error === "object" && error !== null && "code" in error ? String((error as { code: unknown }).code) : ""
  return Errors.isTransientSqliteCode(code) || Errors.TRANSIENT_OS_CODES.has(code)
}

/**
 * A thrown SQLite error as a `StorageError`: retryable when the database was busy or locked,
 * or the disk full (`Errors.isTransientSqliteCode`).
 *
 * @since 0.1.0
 * @category errors
 */
export const toStorageError = (operation: string, error: unknown): Errors.StorageError =>
  error instanceof Errors.StorageError ? error : Errors.storageError(operation, error, { retryable: isRetryableSqlite(error) })

/**
 * Brings the schema up to date in one immediate transaction, so that processes opening a
 * fresh file together apply each migration once.
 *
 * @since 0.1.0
 * @category constructors
 */
export const migrate = (db: Database.Database): void =>
  db
    .transaction(() => {
      const version = db.pragma("user_version", { simple: true }) as number
      if (version > migrations.length)
        throw new Error(`the database has schema version ${version}; this phs knows versions up to ${migrations.length}`)
      if (version === migrations.length) return // up to date: write nothing, so a reader leaves the file's bytes as they were
      for (let v = version; v < migrations.length; v++) db.exec(migrations[v])
      db.pragma(`user_version = ${migrations.length}`)
    })
    .immediate()

const open = (file: string, busyTimeoutMs: number): Database.Database => {
  const db = new Database(file, { timeout: busyTimeoutMs })
  try {
    db.pragma(`busy_timeout = ${busyTimeoutMs}`)
    db.pragma("journal_mode = WAL")
    db.pragma("synchronous = NORMAL")
    db.pragma("foreign_keys = ON")
    migrate(db)
    return db
  } catch (error) {
    db.close()
    throw error
  }
}

/**
 * Opens (creating if needed) `<workdir>/phs.sqlite`; the connection closes with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Sqlite, Errors.StorageError, Scope.Scope> =>
  Effect.gen(function* () {
    const file = path.join(options.workdir, FILE_NAME)
    const db = yield* Effect.acquireRelease(
      Effect.try({
        try: () => {
          makeDirsSync(options.workdir)
          return open(file, options.busyTimeoutMs ?? 5000)
        },
        catch: (error) => toStorageError(`open ${file}`, error)
      }),
      (db) => Effect.sync(() => db.close())
    )
    const use = <A>(operation: string, f: (db: Database.Database) => A) =>
      Effect.try({ try: () => f(db), catch: (error) => toStorageError(operation, error) })
    const transaction = <A>(operation: string, f: (db: Database.Database) => A) =>
      use(operation, () => db.transaction(() => f(db)).immediate())
    return Sqlite.of({ file, db, use, transaction })
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Sqlite, Errors.StorageError> => Layer.scoped(Sqlite, make(options))
