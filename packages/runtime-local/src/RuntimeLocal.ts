/**
 * The embedded runtime: every service the pipeline needs, on one machine, with nothing to
 * start. State lives in `<workdir>/phs.sqlite` (run table, journal, queues, catalog, over
 * one shared connection that closes with the layer) and blobs in `<workdir>/blobs/`.
 *
 * @since 0.1.0
 */
import type { BlobStore, Catalog, Errors, Journal, RunTable, WorkQueue } from "@phs/core"
import { Effect, Layer } from "effect"
import * as path from "node:path"
import * as BlobStoreFs from "./BlobStoreFs.js"
import * as CatalogSqlite from "./CatalogSqlite.js"
import * as JournalSqlite from "./JournalSqlite.js"
import * as RunTableSqlite from "./RunTableSqlite.js"
import * as Sqlite from "./Sqlite.js"
import * as WorkQueueSqlite from "./WorkQueueSqlite.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The directory holding `phs.sqlite` and `blobs/`; created if missing. */
  readonly workdir: string
  /** How long a write waits for another process's lock before failing (retryable). Default 5 s. */
  readonly busyTimeoutMs?: number
}

/**
 * The services a runtime provides.
 *
 * @since 0.1.0
 * @category models
 */
export type Services = BlobStore.BlobStore | WorkQueue.WorkQueue | RunTable.RunTable | Journal.Journal | Catalog.Catalog

/**
 * Where a workdir keeps its blobs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const blobRoot = (workdir: string): string => path.join(workdir, "blobs")

/**
 * Every service over one workdir.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Services, Errors.StorageError> =>
  Layer.mergeAll(RunTableSqlite.layer, JournalSqlite.layer, WorkQueueSqlite.layer, CatalogSqlite.layer).pipe(
    Layer.provide(Sqlite.layer(options)),
    Layer.merge(BlobStoreFs.layer({ root: blobRoot(options.workdir) }))
  )

/**
 * After the process that drove a workdir died (crash, SIGKILL, power cut), its in-flight
 * work belongs to no one: make its queue messages visible and its chunk leases expired now,
 * instead of waiting out their timeouts. Only for the caller that holds the workdir's
 * driver lock, so nothing alive is robbed.
 *
 * @since 0.1.0
 * @category recovery
 */
export const recoverAbandoned = (options: Options): Effect.Effect<{ readonly messages: number; readonly leases: number }, Errors.StorageError> =>
  Effect.scoped(
    Effect.flatMap(Sqlite.make(options), (sql) =>
      sql.transaction("recoverAbandoned", (db) => ({
        messages: db.prepare("UPDATE queue_messages SET visible_at = 0 WHERE receipt IS NOT NULL AND visible_at > 0").run().changes,
        leases: db.prepare("UPDATE chunks SET lease_until = 0 WHERE status = 'IN_PROGRESS'").run().changes
      }))
    )
  )
