/**
 * Storage: the one data bucket holding every blob of the pipeline (docs/architecture.md, "Blob layout"),
 * and the bucket its server access logs go to.
 *
 * @since 0.1.0
 */
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib"
import * as s3 from "aws-cdk-lib/aws-s3"
import { Keys } from "@phs/core/kernel"
import type { Construct } from "constructs"

/**
 * The key prefixes of the data bucket (the same keys as a local `.phs/` directory).
 *
 * @since 0.1.0
 * @category constants
 */
export const PREFIXES = Keys.PREFIXES

/**
 * @since 0.1.0
 * @category models
 */
export interface StorageStackProps extends StackProps {
  /** Age at which `chunks/` and `athena-results/` objects expire. Default 7 days. */
  readonly scratchExpiration?: Duration
  /** Age at which server access logs expire. Default 90 days. */
  readonly accessLogExpiration?: Duration
  /** Keep old versions of overwritten objects (expired after 30 days). Default false. */
  readonly versioned?: boolean
  /** What `cdk destroy` does with the buckets. Default RETAIN: results outlive the stack. */
  readonly removalPolicy?: RemovalPolicy
}

/**
 * @since 0.1.0
 * @category stacks
 */
export class StorageStack extends Stack {
  /** Cubes, manifests, chunk payloads and results, run metadata, the result table, Athena output. */
  readonly bucket: s3.IBucket
  /** Server access logs of `bucket`. */
  readonly accessLogBucket: s3.IBucket

  constructor(scope: Construct, id: string, props: StorageStackProps = {}) {
    super(scope, id, props)
    const scratchExpiration = props.scratchExpiration ?? Duration.days(7)
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN

    const accessLogBucket = new s3.Bucket(this, "AccessLogs", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      // Server access log delivery only supports SSE-S3 on the destination bucket.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: "expire-access-logs", expiration: props.accessLogExpiration ?? Duration.days(90) }],
      removalPolicy
    })

    const bucket = new s3.Bucket(this, "Data", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: props.versioned ?? false,
      serverAccessLogsBucket: accessLogBucket,
      serverAccessLogsPrefix: "data/",
      lifecycleRules: [
        { id: "expire-chunks", prefix: PREFIXES.chunks, expiration: scratchExpiration },
        { id: "expire-athena-results", prefix: PREFIXES.athenaResults, expiration: scratchExpiration },
        { id: "abort-incomplete-uploads", abortIncompleteMultipartUploadAfter: Duration.days(1) },
        ...(props.versioned
          ? [{ id: "expire-noncurrent-versions", noncurrentVersionExpiration: Duration.days(30) }]
          : [])
      ],
      removalPolicy
    })
    // S3 → EventBridge delivery set on the bucket itself: `eventBridgeEnabled: true` would
    // instead deploy a custom-resource Lambda that calls PutBucketNotification.
    const cfnBucket = bucket.node.defaultChild as s3.CfnBucket
    cfnBucket.notificationConfiguration = { eventBridgeConfiguration: { eventBridgeEnabled: true } }

    this.bucket = bucket
    this.accessLogBucket = accessLogBucket

    new CfnOutput(this, "BucketName", { value: bucket.bucketName, description: "phs data bucket (PHS_BUCKET)" })
    new CfnOutput(this, "AccessLogBucketName", { value: accessLogBucket.bucketName })
  }
}
