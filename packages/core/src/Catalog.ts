/**
 * The table catalog: where the result table and its partitions are registered so that SQL
 * engines find them (Glue on AWS, a local catalog file that `phs query` reads).
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import { StorageError } from "./Errors.js"
import * as Keys from "./Keys.js"

/**
 * A registered partition of a table.
 *
 * @since 0.1.0
 * @category models
 */
export interface Partition {
  readonly database: string
  readonly table: string
  /** Partition values, e.g. `{ survey: "grs" }`. */
  readonly values: Readonly<Record<string, string>>
  /** Blob-store prefix holding the partition's files. */
  readonly location: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Catalog {
  /** Registers (or re-registers: idempotent) a partition. */
  readonly registerPartition: (partition: Partition) => Effect.Effect<void, StorageError>
  readonly partitions: (database: string, table: string) => Effect.Effect<ReadonlyArray<Partition>, StorageError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export const Catalog = Context.GenericTag<Catalog>("@phs/core/Catalog")

/**
 * The result table's coordinates.
 *
 * @since 0.1.0
 * @category constants
 */
export const RESULT_DATABASE = Keys.RESULT_DATABASE
export const RESULT_TABLE = "decompositions"

/**
 * Identity of a partition within its table.
 *
 * @since 0.1.0
 * @category models
 */
export const partitionId = (p: Pick<Partition, "database" | "table" | "values">): string =>
  `${p.database}.${p.table}/${Object.keys(p.values).sort().map((k) => `${k}=${p.values[k]}`).join("/")}`

/**
 * An in-memory catalog, for tests.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (): Catalog => {
  const parts = new Map<string, Partition>()
  return {
    registerPartition: (p) => Effect.sync(() => void parts.set(partitionId(p), p)),
    partitions: (database, table) =>
      Effect.sync(() => [...parts.values()].filter((p) => p.database === database && p.table === table))
  }
}

/**
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<Catalog> = Layer.sync(Catalog, makeMemory)
