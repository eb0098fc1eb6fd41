/**
 * @phs/runtime-local — the embedded runtime: SQLite run table, journal, queues and catalog,
 * and a file-system blob store, all under one working directory.
 *
 * @since 0.1.0
 */
export * as BlobStoreFs from "./BlobStoreFs.js"
export * as CubeCheck from "./CubeCheck.js"
export * as DriverLock from "./DriverLock.js"
export * as Dirs from "./Dirs.js"
export * as CatalogSqlite from "./CatalogSqlite.js"
export * as JournalSqlite from "./JournalSqlite.js"
export * as RunTableSqlite from "./RunTableSqlite.js"
export * as RuntimeLocal from "./RuntimeLocal.js"
export * as Sqlite from "./Sqlite.js"
export * as WorkQueueSqlite from "./WorkQueueSqlite.js"
export * as LocalRun from "./LocalRun.js"
