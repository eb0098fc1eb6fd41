/**
 * The table catalog on Glue. `registerPartition` is CreatePartition (an existing partition
 * is updated to the new location: registering is idempotent), `partitions` is
 * GetPartitions. A partition's storage descriptor is the table's with the partition's
 * location (`s3://{bucket}/{prefix}`); its values follow the table's partition keys, and the
 * key names are kept in the partition's parameters so that they read back as given.
 *
 * When the table uses partition projection (the CDK stack projects `survey`), Athena finds
 * partitions by itself: `registerPartition` then does nothing (`partitionProjection: true`).
 *
 * The Glue calls go through `GlueApi`, a five-method interface over `GlueClient`, so tests
 * can stand in a fake (there is no Glue emulator).
 *
 * @since 0.1.0
 */
import {
  CreatePartitionCommand,
  type CreatePartitionCommandInput,
  GetPartitionsCommand,
  type GetPartitionsCommandInput,
  type GetPartitionsCommandOutput,
  GetTableCommand,
  type GetTableCommandInput,
  type GetTableCommandOutput,
  GlueClient,
  type PartitionInput,
  UpdatePartitionCommand,
  type UpdatePartitionCommandInput
} from "@aws-sdk/client-glue"
import { Catalog, Errors } from "@phs/core"
import { Effect, Layer } from "effect"
import { clientOptions, type AwsConfig } from "./AwsConfig.js"
import { call, callStorage, errorName, toStorageError } from "./internal/aws.js"

/**
 * The Glue operations the catalog uses.
 *
 * @since 0.1.0
 * @category models
 */
export interface GlueApi {
  readonly getTable: (input: GetTableCommandInput, signal: AbortSignal) => Promise<GetTableCommandOutput>
  readonly createPartition: (input: CreatePartitionCommandInput, signal: AbortSignal) => Promise<unknown>
  readonly updatePartition: (input: UpdatePartitionCommandInput, signal: AbortSignal) => Promise<unknown>
  readonly getPartitions: (input: GetPartitionsCommandInput, signal: AbortSignal) => Promise<GetPartitionsCommandOutput>
}

/**
 * `GlueApi` over a real client.
 *
 * @since 0.1.0
 * @category constructors
 */
export const glueApi = (client: GlueClient): GlueApi => ({
  getTable: (input, abortSignal) => client.send(new GetTableCommand(input), { abortSignal }),
  createPartition: (input, abortSignal) => client.send(new CreatePartitionCommand(input), { abortSignal }),
  updatePartition: (input, abortSignal) => client.send(new UpdatePartitionCommand(input), { abortSignal }),
  getPartitions: (input, abortSignal) => client.send(new GetPartitionsCommand(input), { abortSignal })
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The bucket holding the table's files (partition locations are `s3://{bucket}/{prefix}`). */
  readonly bucket: string
  /** The Glue database that stands for the core's `RESULT_DATABASE` (default: the same name). */
  readonly database?: string
  /** The table projects its partitions: registering one is a no-op. */
  readonly partitionProjection: boolean
}

/**
 * The partition parameter that keeps the key names of its values.
 *
 * @since 0.1.0
 * @category constants
 */
export const KEYS_PARAMETER = "phs.partition_keys"

const PARQUET_DESCRIPTOR = {
  InputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
  OutputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
  SerdeInfo: { SerializationLibrary: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe" }
}

/**
 * A catalog over a Glue API.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (api: GlueApi, options: Options): Catalog.Catalog => {
  const s3Prefix = `s3://${options.bucket}/`
  const toGlue = (database: string) => (database === Catalog.RESULT_DATABASE && options.database !== undefined ? options.database : database)
  const fromGlue = (database: string) => (options.database !== undefined && database === options.database ? Catalog.RESULT_DATABASE : database)
  const toLocation = (prefix: string) => `${s3Prefix}${prefix}`
  const fromLocation = (uri: string | undefined) => (uri === undefined ? "" : uri.startsWith(s3Prefix) ? uri.slice(s3Prefix.length) : uri)

  const getTable = (database: string, table: string) =>
    call("glue get table", (signal) => api.getTable({ DatabaseName: database, Name: table }, signal), `${database}.${table}`).pipe(
      Effect.mapError((e) =>
        errorName(e.cause) === "EntityNotFoundException"
          ? new Errors.StorageError({ operation: "glue get table", key: `${database}.${table}`, reason: "no such Glue table", retryable: false })
          : toStorageError(e)
      ),
      Effect.map((out) => ({
        keys: (out.Table?.PartitionKeys ?? []).flatMap((k) => (k.Name === undefined ? [] : [k.Name])),
        descriptor: out.Table?.StorageDescriptor ?? {}
      }))
    )

  return {
    registerPartition: (p) =>
      options.partitionProjection
        ? Effect.void
        : Effect.gen(function* () {
            const database = toGlue(p.database)
            const table = yield* getTable(database, p.table)
            const given = Object.keys(p.values).sort()
            const sameKeys = table.keys.length === given.length && table.keys.every((k) => k in p.values)
            const keys = sameKeys ? table.keys : given
            const input: PartitionInput = {
              Values: keys.map((k) => p.values[k]),
              StorageDescriptor: { ...PARQUET_DESCRIPTOR, ...table.descriptor, Location: toLocation(p.location) },
              Parameters: { [KEYS_PARAMETER]: keys.join(",") }
            }
            const id = Catalog.partitionId(p)
            yield* call("glue create partition", (signal) => api.createPartition({ DatabaseName: database, TableName: p.table, PartitionInput: input }, signal), id).pipe(
              Effect.catchIf(
                (e) => errorName(e.cause) === "AlreadyExistsException",
                () =>
                  call(
                    "glue update partition",
                    (signal) =>
                      api.updatePartition(
                        { DatabaseName: database, TableName: p.table, PartitionValueList: input.Values, PartitionInput: input },
                        signal
                      ),
                    id
                  )
              ),
              Effect.mapError(toStorageError),
              Effect.asVoid
            )
          }),
    partitions: (database, table) =>
      Effect.gen(function* () {
        const glueDatabase = toGlue(database)
        const out: Catalog.Partition[] = []
        let tableKeys: ReadonlyArray<string> | undefined
        let token: string | undefined
        do {
          const page = yield* callStorage(
            "glue get partitions",
            (signal) => api.getPartitions({ DatabaseName: glueDatabase, TableName: table, NextToken: token }, signal),
            `${glueDatabase}.${table}`
          )
          for (const part of page.Partitions ?? []) {
            const recorded = part.Parameters?.[KEYS_PARAMETER]
            if (recorded === undefined && tableKeys === undefined) tableKeys = (yield* getTable(glueDatabase, table)).keys
            const keys = recorded === undefined ? tableKeys! : recorded.split(",")
            const values = part.Values ?? []
            out.push({
              database: fromGlue(part.DatabaseName ?? glueDatabase),
              table: part.TableName ?? table,
              values: Object.fromEntries(keys.map((k, i) => [k, values[i] ?? ""])),
              location: fromLocation(part.StorageDescriptor?.Location)
            })
          }
          token = page.NextToken
        } while (token !== undefined && token !== "")
        return out
      })
  }
}

/**
 * A Glue client for `aws`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeClient = (aws: AwsConfig): GlueClient => new GlueClient(clientOptions(aws))

/**
 * The catalog on Glue; the client is created with the layer and destroyed with it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options & { readonly aws: AwsConfig }): Layer.Layer<Catalog.Catalog> =>
  Layer.scoped(
    Catalog.Catalog,
    Effect.map(
      Effect.acquireRelease(Effect.sync(() => makeClient(options.aws)), (client) => Effect.sync(() => client.destroy())),
      (client) => make(glueApi(client), options)
    )
  )

/**
 * The catalog over a given Glue API (a fake, in tests).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerApi = (api: GlueApi, options: Options): Layer.Layer<Catalog.Catalog> => Layer.succeed(Catalog.Catalog, make(api, options))
