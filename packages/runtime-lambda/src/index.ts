/**
 * @phs/runtime-lambda — the aws runtime: the core's services on S3, SQS, DynamoDB and Glue,
 * Athena for queries, and the Lambda handlers (splitter, worker, slow worker, catalog) that
 * run the same stage code as the local runtime.
 *
 * @since 0.1.0
 */
export * as AthenaQuery from "./AthenaQuery.js"
export * as AwsConfig from "./AwsConfig.js"
export * as BlobStoreS3 from "./BlobStoreS3.js"
export * as CatalogGlue from "./CatalogGlue.js"
export * as CatalogQueue from "./CatalogQueue.js"
export * as Deadline from "./Deadline.js"
export * as HandlerSetup from "./handlers/setup.js"
export * as CatalogHandler from "./handlers/catalog.js"
export * as SlowWorkerHandler from "./handlers/slowWorker.js"
export * as SplitterHandler from "./handlers/splitter.js"
export * as StageWorkerHandler from "./handlers/stageWorker.js"
export * as WorkerHandler from "./handlers/worker.js"
export * as JournalDynamo from "./JournalDynamo.js"
export * as Queues from "./Queues.js"
export * as RunTableDynamo from "./RunTableDynamo.js"
export * as RuntimeAws from "./RuntimeAws.js"
export * as Tables from "./Tables.js"
export * as WorkQueueSqs from "./WorkQueueSqs.js"
