import { RemovalPolicy } from "aws-cdk-lib"
import { Match, Template } from "aws-cdk-lib/assertions"
import { describe, expect, it } from "vitest"
import { StorageStack } from "../src/storage.stack.js"
import { logicalId, testApp } from "./support.js"

const synth = (props: ConstructorParameters<typeof StorageStack>[2] = {}) => {
  const stack = new StorageStack(testApp(), "Storage", props)
  return { stack, template: Template.fromStack(stack) }
}

describe("StorageStack", () => {
  const { stack, template } = synth()
  const dataId = logicalId(stack.bucket)
  const logsId = logicalId(stack.accessLogBucket)

  it("creates the data bucket and its access-log bucket, nothing else that runs code", () => {
    template.resourceCountIs("AWS::S3::Bucket", 2)
    template.resourceCountIs("AWS::Lambda::Function", 0)
    template.resourceCountIs("Custom::S3BucketNotifications", 0)
  })

  it("blocks every kind of public access on both buckets", () => {
    for (const id of [dataId, logsId]) {
      expect(template.toJSON().Resources[id].Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true
      })
    }
  })

  it("denies any request not made over TLS, on both buckets", () => {
    for (const id of [dataId, logsId]) {
      template.hasResourceProperties("AWS::S3::BucketPolicy", {
        Bucket: { Ref: id },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: "Deny",
              Principal: { AWS: "*" },
              Action: "s3:*",
              Condition: { Bool: { "aws:SecureTransport": "false" } }
            })
          ])
        }
      })
    }
  })

  it("encrypts objects at rest with S3-managed keys", () => {
    template.allResourcesProperties("AWS::S3::Bucket", {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }]
      }
    })
  })

  it("expires chunks/ and athena-results/ after 7 days, and nothing else", () => {
    const rules = template.toJSON().Resources[dataId].Properties.LifecycleConfiguration.Rules as Array<{
      Prefix?: string
      ExpirationInDays?: number
    }>
    expect(rules.filter((r) => r.ExpirationInDays !== undefined)).toEqual([
      expect.objectContaining({ Prefix: "chunks/", ExpirationInDays: 7, Status: "Enabled" }),
      expect.objectContaining({ Prefix: "athena-results/", ExpirationInDays: 7, Status: "Enabled" })
    ])
  })

  it("aborts incomplete multipart uploads (large cubes) after a day", () => {
    template.hasResourceProperties("AWS::S3::Bucket", {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } })])
      }
    })
  })

  it("sends the data bucket's events to EventBridge natively, without a custom resource", () => {
    expect(template.toJSON().Resources[dataId].Properties.NotificationConfiguration).toEqual({
      EventBridgeConfiguration: { EventBridgeEnabled: true }
    })
  })

  it("logs the data bucket's accesses to the access-log bucket", () => {
    expect(template.toJSON().Resources[dataId].Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: logsId },
      LogFilePrefix: "data/"
    })
  })

  it("keeps no object versions unless asked", () => {
    expect(template.toJSON().Resources[dataId].Properties.VersioningConfiguration).toBeUndefined()
    const versioned = synth({ versioned: true })
    const id = logicalId(versioned.stack.bucket)
    const bucket = versioned.template.toJSON().Resources[id].Properties
    expect(bucket.VersioningConfiguration).toEqual({ Status: "Enabled" })
    expect(bucket.LifecycleConfiguration.Rules).toContainEqual(
      expect.objectContaining({ NoncurrentVersionExpiration: { NoncurrentDays: 30 } })
    )
  })

  it("retains the buckets on stack deletion unless told to destroy them", () => {
    template.hasResource("AWS::S3::Bucket", { DeletionPolicy: "Retain", UpdateReplacePolicy: "Retain" })
    synth({ removalPolicy: RemovalPolicy.DESTROY }).template.allResources("AWS::S3::Bucket", {
      DeletionPolicy: "Delete"
    })
  })

  it("outputs both bucket names", () => {
    template.hasOutput("BucketName", { Value: { Ref: dataId } })
    template.hasOutput("AccessLogBucketName", { Value: { Ref: logsId } })
  })
})
