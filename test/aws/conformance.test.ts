/**
 * The core's conformance suites for BlobStore, RunTable and Journal against the S3 and
 * DynamoDB layers, each test on a fresh bucket or table of the emulators.
 */
import { BlobStoreS3, JournalDynamo, RunTableDynamo, Tables } from "@phs/runtime-lambda"
import { Effect, Layer } from "effect"
import { blobStoreConformance } from "../../packages/core/test/conformance/BlobStore.js"
import { journalConformance } from "../../packages/core/test/conformance/Journal.js"
import { runTableConformance } from "../../packages/core/test/conformance/RunTable.js"
import { aws, freshBucket, freshTable } from "./emulators.js"
import { describeEmulated, endpoints } from "./suite.js"

describeEmulated("on the emulators", () => {
  const { s3, dynamodb } = endpoints()

  const blobStore = () => Layer.unwrapScoped(Effect.map(freshBucket(s3), (bucket) => BlobStoreS3.layer({ aws: aws(s3), bucket })))

  const journal = (inlineLimitBytes?: number) => () =>
    Layer.unwrapScoped(
      Effect.map(freshTable(dynamodb, Tables.journalTable), (tableName) =>
        JournalDynamo.layer({ aws: aws(dynamodb), tableName, ...(inlineLimitBytes === undefined ? {} : { inlineLimitBytes }) })
      )
    ).pipe(Layer.provide(blobStore()))

  blobStoreConformance("BlobStoreS3 (s3rver)", blobStore)

  runTableConformance("RunTableDynamo (DynamoDB Local)", () =>
    Layer.unwrapScoped(Effect.map(freshTable(dynamodb, Tables.runsTable), (tableName) => RunTableDynamo.layer({ aws: aws(dynamodb), tableName })))
  )

  journalConformance("JournalDynamo (DynamoDB Local)", journal())

  journalConformance("JournalDynamo, every output in S3 (DynamoDB Local + s3rver)", journal(0))
})
