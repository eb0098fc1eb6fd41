/**
 * One pipeline Lambda: the shared image with its handler's command, its own role (no managed
 * policy: it may write its own log group and nothing else until granted), and the grants a
 * stage needs, each explaining the cdk-nag findings it raises.
 *
 * @since 0.1.0
 */
import { Duration, RemovalPolicy } from "aws-cdk-lib"
import type * as ecrAssets from "aws-cdk-lib/aws-ecr-assets"
import * as iam from "aws-cdk-lib/aws-iam"
import * as lambda from "aws-cdk-lib/aws-lambda"
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources"
import * as logs from "aws-cdk-lib/aws-logs"
import type * as s3 from "aws-cdk-lib/aws-s3"
import { NagSuppressions } from "cdk-nag"
import { Construct } from "constructs"
import { handlerCommand, type HandlerName } from "./image.js"
import type { QueueWithDlq } from "./queues.stack.js"
import type { PipelineTables } from "./state.stack.js"
import type { PREFIXES } from "./storage.stack.js"

/**
 * Lambda's maximum run time; every pipeline function may use all of it.
 *
 * @since 0.1.0
 * @category constants
 */
export const FUNCTION_TIMEOUT = Duration.minutes(15)

/**
 * @since 0.1.0
 * @category models
 */
export type Prefix = (typeof PREFIXES)[keyof typeof PREFIXES]

/**
 * @since 0.1.0
 * @category models
 */
export interface ObjectAccess {
  readonly read?: ReadonlyArray<Prefix>
  readonly write?: ReadonlyArray<Prefix>
  readonly readWrite?: ReadonlyArray<Prefix>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PipelineFunctionProps {
  readonly handler: HandlerName
  readonly image: ecrAssets.DockerImageAsset
  readonly description: string
  readonly memorySize: number
  readonly environment: Readonly<Record<string, string>>
  readonly reservedConcurrentExecutions?: number
  readonly logRetention: logs.RetentionDays
}

/**
 * @since 0.1.0
 * @category constructs
 */
export class PipelineFunction extends Construct {
  readonly function: lambda.DockerImageFunction
  readonly role: iam.Role
  readonly logGroup: logs.ILogGroup

  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    super(scope, id)
    this.role = new iam.Role(this, "Role", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: `phs ${props.handler} Lambda`
    })
    const logGroup = new logs.LogGroup(this, "Logs", {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY
    })
    // In place of the AWSLambdaBasicExecutionRole managed policy: this log group only.
    logGroup.grantWrite(this.role)
    this.logGroup = logGroup
    this.function = new lambda.DockerImageFunction(this, "Function", {
      description: props.description,
      code: lambda.DockerImageCode.fromEcr(props.image.repository, {
        tagOrDigest: props.image.imageTag,
        cmd: [handlerCommand(props.handler)]
      }),
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: FUNCTION_TIMEOUT,
      role: this.role,
      logGroup,
      environment: { ...props.environment },
      reservedConcurrentExecutions: props.reservedConcurrentExecutions
    })
  }

  /**
   * Object access to the data bucket, scoped to key prefixes (`chunks/*`, …).
   */
  grantObjects(bucket: s3.IBucket, access: ObjectAccess): void {
    const { read = [], write = [], readWrite = [] } = access
    for (const p of read) bucket.grantRead(this.role, `${p}*`)
    for (const p of write) bucket.grantWrite(this.role, `${p}*`)
    for (const p of readWrite) bucket.grantReadWrite(this.role, `${p}*`)

    const keys = (ps: ReadonlyArray<Prefix>) => ps.map((p) => `${p}*`).join(", ")
    const scope = [
      read.length > 0 ? `reads ${keys(read)}` : "",
      write.length > 0 ? `writes ${keys(write)}` : "",
      readWrite.length > 0 ? `reads and writes ${keys(readWrite)}` : ""
    ].filter((s) => s !== "")
    const reads = read.length + readWrite.length > 0
    const writes = write.length + readWrite.length > 0
    NagSuppressions.addResourceSuppressions(
      this.role,
      [
        {
          id: "AwsSolutions-IAM5",
          reason: `Prefix-scoped S3 grant: the ${this.node.id} function ${scope.join(" and ")} of the data bucket, no other keys. Object names under a prefix (run ids, chunk numbers) are only known at run time.`,
          // `.+`: how cdk-nag renders the cross-stack bucket ARN depends on the reference kind.
          appliesTo: [...read, ...write, ...readWrite].map((p) => ({
            regex: `/^Resource::.+\\/${p.slice(0, -1)}\\/\\*$/g`
          }))
        },
        {
          id: "AwsSolutions-IAM5",
          reason: `Action groups of CDK's S3 grants for the ${this.node.id} function: ${[
            reads
              ? "GetObject* (object and ranged reads) on its prefixes only; GetBucket* and List* on the bucket ARN, which lets it list key names (not read objects) anywhere in the bucket: ListBucket cannot be scoped to a prefix by resource ARN"
              : "",
            writes ? "DeleteObject* (replacing and removing its own files) and Abort* (abandoned multipart uploads), on its prefixes only" : ""
          ]
            .filter((s) => s !== "")
            .join("; ")}.`,
          appliesTo: [
            ...(reads ? ["Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*"] : []),
            ...(writes ? ["Action::s3:DeleteObject*", "Action::s3:Abort*"] : [])
          ]
        }
      ],
      true
    )
  }

  /**
   * Read-write access to the run table (and its `by-survey` index) and to the journal.
   */
  grantRunState(tables: PipelineTables): void {
    tables.runs.grantReadWriteData(this.role)
    tables.journal.grantReadWriteData(this.role)
    NagSuppressions.addResourceSuppressions(
      this.role,
      [
        {
          id: "AwsSolutions-IAM5",
          reason: `CDK's table grant to the ${this.node.id} function includes the run table's indexes (<table>/index/*: the by-survey index, for run lookups by survey); the wildcard spans that one table's indexes only.`,
          appliesTo: [{ regex: `/^Resource::.+${tables.runs.node.id}.+\\/index\\/\\*$/g` }]
        }
      ],
      true
    )
  }

  /**
   * Consumes a queue one message per invocation, reporting a failed message instead of
   * failing the batch. `maxConcurrency` caps the pollers at the function's reserved
   * concurrency, so that they do not receive messages that would be throttled (each such
   * receive counts towards the dead-letter threshold).
   */
  consume(source: QueueWithDlq, maxConcurrency?: number): void {
    if (FUNCTION_TIMEOUT.toSeconds() > source.visibilityTimeout.toSeconds()) {
      throw new Error(`phs infra: ${this.node.id} may run longer than its queue's visibility timeout`)
    }
    this.function.addEventSource(
      new SqsEventSource(source.queue, {
        batchSize: 1,
        reportBatchItemFailures: true,
        maxConcurrency: maxConcurrency === undefined ? undefined : Math.min(1000, Math.max(2, maxConcurrency))
      })
    )
  }
}
