/**
 * Compute: the four pipeline Lambdas, all from one ARM64 container image, each with its own
 * role holding only the grants its stage uses.
 *
 * - splitter (EventBridge: Object Created `manifests/*.json`): reads cubes/ and manifests/,
 *   writes chunks/; sends to fit (and, on failure, its event to splitFailures).
 * - worker (fit queue): reads and writes chunks/; sends to slow, catalog and the fit DLQ.
 * - slowWorker (slow queue): reads and writes chunks/; sends to catalog and the slow DLQ.
 * - stageWorker (stage queue, every user fan-out stage): reads and writes chunks/; sends to
 *   catalog and the stage DLQ.
 * - catalog (catalog queue): reads chunks/, writes runs/, starts fan-out stages (sends to stage), reads and writes decompositions/;
 *   registers partitions of phspectra.decompositions in Glue.
 *
 * All five read and write the run table and the journal; only catalog touches Glue.
 *
 * @since 0.1.0
 */
import { CfnOutput, Duration, Stack, type StackProps } from "aws-cdk-lib"
import * as events from "aws-cdk-lib/aws-events"
import * as targets from "aws-cdk-lib/aws-events-targets"
import * as iam from "aws-cdk-lib/aws-iam"
import type * as lambda from "aws-cdk-lib/aws-lambda"
import type * as ecrAssets from "aws-cdk-lib/aws-ecr-assets"
import * as destinations from "aws-cdk-lib/aws-lambda-destinations"
import * as logs from "aws-cdk-lib/aws-logs"
import type * as s3 from "aws-cdk-lib/aws-s3"
import type { Construct } from "constructs"
import type { ResultTableRef } from "./catalog.stack.js"
import { type HandlerName, pipelineImage } from "./image.js"
import { PipelineFunction } from "./pipeline-function.js"
import type { PipelineQueues, QueueWithDlq } from "./queues.stack.js"
import type { PipelineTables } from "./state.stack.js"
import { PREFIXES } from "./storage.stack.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface ComputeStackProps extends StackProps {
  readonly bucket: s3.IBucket
  readonly tables: PipelineTables
  readonly queues: PipelineQueues
  readonly resultTable: ResultTableRef
  /** Workers running at once (reserved concurrency, and the fit queue's poller limit). Default 500. */
  readonly workerReservedConcurrency?: number
  /** Slow workers running at once. Default 10. */
  readonly slowReservedConcurrency?: number
  /** Worker and slow-worker memory, MiB (CPU scales with it). Default 1024. */
  readonly workerMemoryMiB?: number
  /** Retention of the functions' log groups. Default one month. */
  readonly logRetention?: logs.RetentionDays
}

/**
 * @since 0.1.0
 * @category models
 */
export type PipelineFunctions = Readonly<Record<HandlerName, lambda.IFunction>>

/**
 * @since 0.1.0
 * @category stacks
 */
export class ComputeStack extends Stack {
  readonly functions: PipelineFunctions
  /** The image all five run; staged at synth, built and pushed by `cdk deploy`. */
  readonly image: ecrAssets.DockerImageAsset
  /** Starts a run: S3 Object Created in the data bucket under `manifests/`, ending `.json`. */
  readonly manifestRule: events.Rule

  constructor(scope: Construct, id: string, props: ComputeStackProps) {
    super(scope, id, props)
    const { bucket, tables, queues, resultTable } = props
    const workerConcurrency = props.workerReservedConcurrency ?? 500
    const slowConcurrency = props.slowReservedConcurrency ?? 10
    const workerMemory = props.workerMemoryMiB ?? 1024

    const image = pipelineImage(this, "Image")
    const common = {
      image,
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      // Every function gets the whole contract: the handlers share one layer setup, and queue
      // URLs and table names are not secrets. What a function may *do* is its role's business.
      environment: {
        PHS_BUCKET: bucket.bucketName,
        PHS_RUNS_TABLE: tables.runs.tableName,
        PHS_JOURNAL_TABLE: tables.journal.tableName,
        PHS_FIT_QUEUE_URL: queues.fit.queue.queueUrl,
        PHS_FIT_DLQ_URL: queues.fit.deadLetterQueue.queueUrl,
        PHS_SLOW_QUEUE_URL: queues.slow.queue.queueUrl,
        PHS_SLOW_DLQ_URL: queues.slow.deadLetterQueue.queueUrl,
        PHS_STAGE_QUEUE_URL: queues.stage.queue.queueUrl,
        PHS_STAGE_DLQ_URL: queues.stage.deadLetterQueue.queueUrl,
        PHS_CATALOG_QUEUE_URL: queues.catalog.queue.queueUrl,
        PHS_GLUE_DATABASE: resultTable.databaseName,
        PHS_PARTITION_PROJECTION: String(resultTable.partitionProjection)
      }
    }

    // --- splitter: a manifest → chunks, the run, one fit message per chunk ---------------------
    const splitter = new PipelineFunction(this, "Splitter", {
      ...common,
      handler: "splitter",
      description: "phs split: plan a cube's chunks, create the run, enqueue one fit message per chunk",
      memorySize: 2048
    })
    splitter.grantObjects(bucket, { read: [PREFIXES.cubes, PREFIXES.manifests], write: [PREFIXES.chunks] })
    splitter.grantRunState(tables)
    queues.fit.queue.grantSendMessages(splitter.role)
    // EventBridge invokes asynchronously: two retries, then the event goes to splitFailures.
    splitter.function.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new destinations.SqsDestination(queues.splitFailures)
    })
    const manifestRule = new events.Rule(this, "ManifestUploaded", {
      description: "phs: a manifest uploaded under manifests/ starts a run",
      eventPattern: {
        source: ["aws.s3"],
        detailType: ["Object Created"],
        detail: {
          bucket: { name: [bucket.bucketName] },
          object: { key: events.Match.wildcard(`${PREFIXES.manifests}*.json`) }
        }
      }
    })
    manifestRule.addTarget(new targets.LambdaFunction(splitter.function))

    // --- chunk workers: one per chunk queue, each message one chunk ----------------------------
    // The fit, slow-fit and fan-out-stage workers differ only in their handler, queue and what
    // they send on; each reads and writes chunk payloads, may dead-letter a fatal chunk and
    // sends the chunk that settles a run (or finishes a stage) to the catalog.
    const chunkWorker = (id: string, o: { readonly handler: HandlerName; readonly description: string; readonly queue: QueueWithDlq; readonly concurrency: number }) => {
      const fn = new PipelineFunction(this, id, {
        ...common,
        handler: o.handler,
        description: o.description,
        memorySize: workerMemory,
        reservedConcurrentExecutions: o.concurrency
      })
      fn.grantObjects(bucket, { readWrite: [PREFIXES.chunks] })
      fn.grantRunState(tables)
      fn.consume(o.queue, o.concurrency)
      o.queue.deadLetterQueue.grantSendMessages(fn.role) // WorkQueue.deadLetter of a fatal chunk
      queues.catalog.queue.grantSendMessages(fn.role)
      return fn
    }

    // fit: decompose one chunk, defer its slow spectra to the slow queue.
    const worker = chunkWorker("Worker", {
      handler: "worker",
      description: "phs fit: decompose one chunk's spectra, defer the slow ones",
      queue: queues.fit,
      concurrency: workerConcurrency
    })
    queues.slow.queue.grantSendMessages(worker.role)
    // slow fit: refit a chunk's deferred spectra, its Parquet replaced.
    const slowWorker = chunkWorker("SlowWorker", {
      handler: "slowWorker",
      description: "phs slow-fit: refit a chunk's deferred spectra without a time budget",
      queue: queues.slow,
      concurrency: slowConcurrency
    })
    // fan-out stages: one function for every fan-out stage of the pipeline the image holds —
    // the message names the stage, so a new stage needs no wiring here.
    const stageWorker = chunkWorker("StageWorker", {
      handler: "stageWorker",
      description: "phs fan-out stages: run one chunk of a user stage (routed by its name)",
      queue: queues.stage,
      concurrency: workerConcurrency
    })

    // --- catalog: a settled run → compacted parts, metadata, the survey's partition ------------
    const catalog = new PipelineFunction(this, "Catalog", {
      ...common,
      handler: "catalog",
      description: "phs catalog: compact a settled run, validate it, register its partition",
      memorySize: 3008
    })
    // decompositions/ read-write, not write only: compaction lists and removes the parts an
    // earlier attempt of the same run left behind.
    catalog.grantObjects(bucket, {
      read: [PREFIXES.chunks],
      write: [PREFIXES.runs],
      readWrite: [PREFIXES.decompositions]
    })
    catalog.grantRunState(tables)
    catalog.consume(queues.catalog)
    queues.stage.queue.grantSendMessages(catalog.role) // starts each fan-out stage behind its barrier
    catalog.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: "RegisterSurveyPartition",
        actions: [
          "glue:GetDatabase",
          "glue:GetTable",
          "glue:GetPartition",
          "glue:GetPartitions",
          "glue:BatchGetPartition",
          "glue:CreatePartition",
          "glue:BatchCreatePartition",
          "glue:UpdatePartition"
        ],
        resources: [
          this.formatArn({ service: "glue", resource: "catalog" }),
          this.formatArn({ service: "glue", resource: "database", resourceName: resultTable.databaseName }),
          this.formatArn({
            service: "glue",
            resource: "table",
            resourceName: `${resultTable.databaseName}/${resultTable.tableName}`
          })
        ]
      })
    )

    const named = { Splitter: splitter, Worker: worker, SlowWorker: slowWorker, StageWorker: stageWorker, Catalog: catalog }
    for (const [name, fn] of Object.entries(named)) {
      new CfnOutput(this, `${name}LogGroup`, { value: fn.logGroup.logGroupName })
    }
    this.functions = {
      splitter: splitter.function,
      worker: worker.function,
      slowWorker: slowWorker.function,
      stageWorker: stageWorker.function,
      catalog: catalog.function
    }
    this.image = image
    this.manifestRule = manifestRule
  }
}
