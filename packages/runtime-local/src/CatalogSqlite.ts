/**
 * The table catalog in SQLite: table `catalog_partitions`, one row per partition of a
 * table, its values as JSON. `phs query` reads it to find the result files.
 *
 * @since 0.1.0
 */
import { Catalog, Errors } from "@phs/core"
import { Effect, Layer } from "effect"
import { Sqlite } from "./Sqlite.js"

interface Row {
  readonly database_name: string
  readonly table_name: string
  readonly partition_values: string
  readonly location: string
}

/**
 * A catalog over the shared SQLite connection. Partitions list in the order they were
 * first registered.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Catalog.Catalog, Errors.StorageError, Sqlite> = Effect.gen(function* () {
  const sql = yield* Sqlite
  const s = yield* sql.use("prepare catalog", (db) => ({
    upsert: db.prepare(
      `INSERT INTO catalog_partitions (database_name, table_name, partition_id, partition_values, location)
       VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (database_name, table_name, partition_id)
       DO UPDATE SET partition_values = excluded.partition_values, location = excluded.location`
    ),
    list: db.prepare<[string, string], Row>(
      `SELECT database_name, table_name, partition_values, location FROM catalog_partitions
       WHERE database_name = ? AND table_name = ? ORDER BY seq`
    )
  }))
  return Catalog.Catalog.of({
    registerPartition: (p) =>
      sql.use("registerPartition", () =>
        void s.upsert.run(p.database, p.table, Catalog.partitionId(p), JSON.stringify(p.values), p.location)
      ),
    partitions: (database, table) =>
      sql.use("partitions", () =>
        s.list.all(database, table).map(
          (r): Catalog.Partition => ({
            database: r.database_name,
            table: r.table_name,
            values: JSON.parse(r.partition_values) as Record<string, string>,
            location: r.location
          })
        )
      )
  })
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Catalog.Catalog, Errors.StorageError, Sqlite> = Layer.effect(Catalog.Catalog, make)
