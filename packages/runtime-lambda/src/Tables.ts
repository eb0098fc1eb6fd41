/**
 * The DynamoDB tables of the aws runtime, as data: the emulator tests create them from
 * these definitions and the CDK stack builds the same ones (`AttributeType.STRING` is "S",
 * `ProjectionType.KEYS_ONLY` is "KEYS_ONLY").
 *
 * Run table (one partition per run): `pk` = run id; `sk` = `RUN`, or `CHUNK#{start:07d}`.
 * The `RUN` item alone has `survey` and `created_at`, so the `by-survey` index holds runs
 * only (keys only: a run's counters change at every chunk and should not be copied there;
 * readers fetch the items from the table, consistently).
 *
 * Journal: `pk` = run id; `sk` = `{stage}#{scope}#{step}#{inputHash}`.
 *
 * @since 0.1.0
 */
import type { CreateTableCommandInput } from "@aws-sdk/client-dynamodb"

/**
 * @since 0.1.0
 * @category models
 */
export interface KeyAttribute {
  readonly name: string
  readonly type: "S" | "N"
}

/**
 * @since 0.1.0
 * @category models
 */
export interface IndexDefinition {
  readonly indexName: string
  readonly partitionKey: KeyAttribute
  readonly sortKey: KeyAttribute
  readonly projectionType: "KEYS_ONLY" | "ALL"
}

/**
 * @since 0.1.0
 * @category models
 */
export interface TableDefinition {
  readonly partitionKey: KeyAttribute
  readonly sortKey: KeyAttribute
  readonly globalSecondaryIndexes: ReadonlyArray<IndexDefinition>
  /** On-demand capacity: the load is bursty (a run is hundreds of writers, then nothing). */
  readonly billingMode: "PAY_PER_REQUEST"
}

/**
 * The index of runs by survey, newest first when queried backwards.
 *
 * @since 0.1.0
 * @category constants
 */
export const BY_SURVEY = "by-survey"

/**
 * @since 0.1.0
 * @category constants
 */
export const runsTable: TableDefinition = {
  partitionKey: { name: "pk", type: "S" },
  sortKey: { name: "sk", type: "S" },
  globalSecondaryIndexes: [
    {
      indexName: BY_SURVEY,
      partitionKey: { name: "survey", type: "S" },
      sortKey: { name: "created_at", type: "N" },
      projectionType: "KEYS_ONLY"
    }
  ],
  billingMode: "PAY_PER_REQUEST"
}

/**
 * @since 0.1.0
 * @category constants
 */
export const journalTable: TableDefinition = {
  partitionKey: { name: "pk", type: "S" },
  sortKey: { name: "sk", type: "S" },
  globalSecondaryIndexes: [],
  billingMode: "PAY_PER_REQUEST"
}

/**
 * The `CreateTable` request for a definition (what the emulator tests send).
 *
 * @since 0.1.0
 * @category constructors
 */
export const createTableInput = (tableName: string, def: TableDefinition): CreateTableCommandInput => {
  const attributes = new Map<string, KeyAttribute>()
  for (const a of [def.partitionKey, def.sortKey, ...def.globalSecondaryIndexes.flatMap((i) => [i.partitionKey, i.sortKey])])
    attributes.set(a.name, a)
  return {
    TableName: tableName,
    BillingMode: def.billingMode,
    AttributeDefinitions: [...attributes.values()].map((a) => ({ AttributeName: a.name, AttributeType: a.type })),
    KeySchema: [
      { AttributeName: def.partitionKey.name, KeyType: "HASH" },
      { AttributeName: def.sortKey.name, KeyType: "RANGE" }
    ],
    ...(def.globalSecondaryIndexes.length === 0
      ? {}
      : {
          GlobalSecondaryIndexes: def.globalSecondaryIndexes.map((i) => ({
            IndexName: i.indexName,
            KeySchema: [
              { AttributeName: i.partitionKey.name, KeyType: "HASH" as const },
              { AttributeName: i.sortKey.name, KeyType: "RANGE" as const }
            ],
            Projection: { ProjectionType: i.projectionType }
          }))
        })
  }
}
