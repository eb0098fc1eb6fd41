/**
 * Catalog: the result table `phspectra.decompositions` in Glue (columns from
 * `RESULT_COLUMNS`, Snappy Parquet under `decompositions/`, Hive-partitioned by survey), the
 * Athena workgroup that queries it, and the named queries shipped with it (`NAMED_QUERIES`,
 * the same text `phs query --named` runs locally).
 *
 * @since 0.1.0
 */
import { CfnOutput, Stack, type StackProps } from "aws-cdk-lib"
import * as athena from "aws-cdk-lib/aws-athena"
import * as glue from "aws-cdk-lib/aws-glue"
import type * as s3 from "aws-cdk-lib/aws-s3"
import type { Construct } from "constructs"
// The two modules alone, by relative path: the package entry point `@phs/core` also loads
// the native addon, which synthesizing a template must not need.
import { NAMED_QUERIES } from "@phs/core/queries"
import { RESULT_COLUMNS, RESULT_TABLE } from "@phs/core/schema"
import { PREFIXES } from "./storage.stack.js"

/**
 * How Athena finds a survey's partition.
 * - `projected`: partition projection, `survey` injected from the query; nothing is
 *   registered, but every query must filter on `survey = '…'` (or `IN (…)`).
 * - `registered`: no projection; the catalog Lambda registers each survey's partition in Glue.
 *
 * @since 0.1.0
 * @category models
 */
export type SurveyPartitions = "projected" | "registered"

/**
 * The result table's coordinates, as the compute stack needs them.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResultTableRef {
  readonly databaseName: string
  readonly tableName: string
  /** `PHS_PARTITION_PROJECTION`: whether the catalog Lambda may skip registering partitions. */
  readonly partitionProjection: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CatalogStackProps extends StackProps {
  readonly bucket: s3.IBucket
  /** Default `registered`: the catalog Lambda adds each survey partition, so queries need no survey filter. `projected` (injected) requires one. */
  readonly surveyPartitions?: SurveyPartitions
  /** Default `phs`. */
  readonly workGroupName?: string
  /** Cancel a query once it has scanned this many bytes. Default: no limit. */
  readonly bytesScannedCutoffPerQuery?: number
}

const PARQUET = {
  inputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
  outputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
  serdeInfo: {
    serializationLibrary: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    parameters: { "serialization.format": "1" }
  }
}

/**
 * @since 0.1.0
 * @category stacks
 */
export class CatalogStack extends Stack {
  readonly resultTable: ResultTableRef
  readonly workGroupName: string

  constructor(scope: Construct, id: string, props: CatalogStackProps) {
    super(scope, id, props)
    const projected = (props.surveyPartitions ?? "registered") === "projected"
    const { bucket } = props
    const location = `s3://${bucket.bucketName}/${PREFIXES.decompositions}`
    const partition = RESULT_TABLE.partitionColumn

    const database = new glue.CfnDatabase(this, "Database", {
      catalogId: this.account,
      databaseInput: { name: RESULT_TABLE.database, description: "phs: Gaussian decompositions of survey cubes" }
    })

    const table = new glue.CfnTable(this, "Decompositions", {
      catalogId: this.account,
      databaseName: RESULT_TABLE.database,
      tableInput: {
        name: RESULT_TABLE.table,
        description: "One row per spectrum per run; partitioned by survey",
        tableType: "EXTERNAL_TABLE",
        parameters: {
          EXTERNAL: "TRUE",
          classification: "parquet",
          "parquet.compression": "SNAPPY",
          ...(projected
            ? {
                "projection.enabled": "true",
                [`projection.${partition.name}.type`]: "injected",
                "storage.location.template": `${location}${partition.name}=\${${partition.name}}/`
              }
            : {})
        },
        partitionKeys: [{ name: partition.name, type: partition.glue, comment: partition.doc }],
        storageDescriptor: {
          ...PARQUET,
          location,
          compressed: true,
          columns: RESULT_COLUMNS.map((c) => ({ name: c.name, type: c.glue, comment: c.doc }))
        }
      }
    })
    table.addResourceDependency(database)

    const workGroupName = props.workGroupName ?? "phs"
    const workGroup = new athena.CfnWorkGroup(this, "WorkGroup", {
      name: workGroupName,
      description: "phs: queries over phspectra.decompositions",
      state: "ENABLED",
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: props.bytesScannedCutoffPerQuery,
        resultConfiguration: {
          outputLocation: `s3://${bucket.bucketName}/${PREFIXES.athenaResults}`,
          encryptionConfiguration: { encryptionOption: "SSE_S3" }
        }
      }
    })

    for (const q of NAMED_QUERIES) {
      const named = new athena.CfnNamedQuery(this, `Query-${q.name}`, {
        name: q.name,
        description: q.description,
        database: RESULT_TABLE.database,
        workGroup: workGroup.ref,
        queryString: q.sql
      })
      named.addResourceDependency(table)
    }

    this.resultTable = {
      databaseName: RESULT_TABLE.database,
      tableName: RESULT_TABLE.table,
      partitionProjection: projected
    }
    this.workGroupName = workGroupName

    new CfnOutput(this, "WorkGroupName", { value: workGroup.ref, description: "Athena workgroup" })
  }
}
