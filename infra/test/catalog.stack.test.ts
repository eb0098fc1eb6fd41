import { Match, Template } from "aws-cdk-lib/assertions"
import { describe, expect, it } from "vitest"
import { NAMED_QUERIES } from "../../packages/core/src/NamedQueries.js"
import { RESULT_COLUMNS } from "../../packages/core/src/ResultSchema.js"
import { logicalId, phsStacks } from "./support.js"

describe("CatalogStack", () => {
  const stacks = phsStacks()
  const template = Template.fromStack(stacks.catalog)
  const tableInput = () => Object.values(template.findResources("AWS::Glue::Table"))[0].Properties.TableInput
  /** The bucket name as the catalog stack reads it from the storage stack. */
  const bucketName = Match.objectLike({
    "Fn::GetStackOutput": Match.objectLike({
      StackName: stacks.storage.stackName,
      OutputName: Match.stringLikeRegexp(`Ref${logicalId(stacks.storage.bucket)}`)
    })
  })

  it("creates the Glue database phspectra", () => {
    template.hasResourceProperties("AWS::Glue::Database", {
      CatalogId: { Ref: "AWS::AccountId" },
      DatabaseInput: { Name: "phspectra" }
    })
  })

  it("declares the table's columns from RESULT_COLUMNS, in file order", () => {
    const columns = tableInput().StorageDescriptor.Columns as Array<{ Name: string; Type: string }>
    expect(columns.map((c) => [c.Name, c.Type])).toEqual(RESULT_COLUMNS.map((c) => [c.name, c.glue]))
    expect(columns.map((c) => `${c.Name} ${c.Type}`)).toEqual([
      "x int",
      "y int",
      "beta double",
      "rms double",
      "min_persistence double",
      "n_components int",
      "component_amplitudes array<double>",
      "component_means array<double>",
      "component_stddevs array<double>",
      "nan_channels int",
      "residual_rms double",
      "chi2_reduced double",
      "aicc double",
      "component_amplitude_errors array<double>",
      "component_mean_errors array<double>",
      "component_stddev_errors array<double>",
      "run_id string",
      "cube string",
      "lon double",
      "lat double",
      "component_velocities array<double>",
      "component_velocity_dispersions array<double>",
      "component_integrated_intensities array<double>",
      "refit string"
    ])
  })

  it("is an external Snappy Parquet table under decompositions/, partitioned by survey", () => {
    template.hasResourceProperties("AWS::Glue::Table", {
      DatabaseName: "phspectra",
      TableInput: {
        Name: "decompositions",
        TableType: "EXTERNAL_TABLE",
        PartitionKeys: [{ Name: "survey", Type: "string", Comment: Match.anyValue() }],
        Parameters: Match.objectLike({ EXTERNAL: "TRUE", classification: "parquet", "parquet.compression": "SNAPPY" }),
        StorageDescriptor: Match.objectLike({
          Location: { "Fn::Join": ["", ["s3://", bucketName, "/decompositions/"]] },
          InputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
          OutputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
          SerdeInfo: Match.objectLike({
            SerializationLibrary: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
          })
        })
      }
    })
  })

  it("with surveyPartitions projected, projects the survey partition, injected from the query", () => {
    const projected = phsStacks({ surveyPartitions: "projected" })
    const input = Object.values(Template.fromStack(projected.catalog).findResources("AWS::Glue::Table"))[0].Properties.TableInput
    expect(input.Parameters).toEqual(
      expect.objectContaining({
        "projection.enabled": "true",
        "projection.survey.type": "injected",
        "storage.location.template": {
          "Fn::Join": ["", ["s3://", expect.anything(), "/decompositions/survey=${survey}/"]]
        }
      })
    )
    expect(projected.catalog.resultTable).toEqual({
      databaseName: "phspectra",
      tableName: "decompositions",
      partitionProjection: true
    })
  })

  it("registers partitions by default, so the named queries (no survey filter) run on Athena", () => {
    const registered = stacks
    const input = Object.values(Template.fromStack(registered.catalog).findResources("AWS::Glue::Table"))[0].Properties
      .TableInput
    expect(Object.keys(input.Parameters).filter((k) => k.startsWith("projection.") || k.startsWith("storage."))).toEqual([])
    expect(registered.catalog.resultTable.partitionProjection).toBe(false)
  })

  it("sends Athena results to athena-results/, encrypted, and enforces the workgroup's settings", () => {
    template.hasResourceProperties("AWS::Athena::WorkGroup", {
      Name: "phs",
      State: "ENABLED",
      WorkGroupConfiguration: Match.objectLike({
        EnforceWorkGroupConfiguration: true,
        ResultConfiguration: {
          OutputLocation: { "Fn::Join": ["", ["s3://", bucketName, "/athena-results/"]] },
          EncryptionConfiguration: { EncryptionOption: "SSE_S3" }
        }
      })
    })
  })

  it("ships one named query per NAMED_QUERIES entry, with the identical SQL", () => {
    const named = Object.values(template.findResources("AWS::Athena::NamedQuery")).map((r) => r.Properties)
    expect(named).toHaveLength(NAMED_QUERIES.length)
    for (const q of NAMED_QUERIES) {
      expect(named).toContainEqual({
        Name: q.name,
        Description: q.description,
        Database: "phspectra",
        QueryString: q.sql,
        WorkGroup: { Ref: Object.keys(template.findResources("AWS::Athena::WorkGroup"))[0] }
      })
    }
  })
})
