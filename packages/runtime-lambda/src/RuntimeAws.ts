/**
 * The aws runtime: every service the pipeline needs on S3, SQS, DynamoDB and Glue, plus
 * Athena queries and the native fitter, as one layer. `fromEnv` reads the environment
 * contract of the Lambda functions (see the package README).
 *
 * @since 0.1.0
 */
import { type Errors, Fitter, Keys, type Pipeline, Settings, type WorkQueue } from "@phs/core"
import { Config as EffectConfig, Either, Layer, Option } from "effect"
import * as AthenaQuery from "./AthenaQuery.js"
import { type AwsConfig, forService, type Service } from "./AwsConfig.js"
import * as BlobStoreS3 from "./BlobStoreS3.js"
import * as CatalogGlue from "./CatalogGlue.js"
import * as JournalDynamo from "./JournalDynamo.js"
import * as RunTableDynamo from "./RunTableDynamo.js"
import * as WorkQueueSqs from "./WorkQueueSqs.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Config {
  readonly aws: AwsConfig
  /** Per-service endpoint overrides (emulators on different ports); they win over `aws.endpoint`. */
  readonly endpoints?: Partial<Record<Service, string>>
  readonly bucket: string
  readonly runsTable: string
  readonly journalTable: string
  readonly queues: WorkQueueSqs.Options["queues"]
  /** Where a worker sends `{ runId }` when its run settles (the worker handlers need it). */
  readonly catalogQueueUrl?: string
  /** The Glue database of the result table. */
  readonly glueDatabase: string
  /** The result table projects its partitions: no partition is registered. */
  readonly partitionProjection: boolean
  readonly athena: { readonly workgroup: string; readonly outputLocation?: string }
  /** Native threads per fit batch (default: every core the function has). */
  readonly fitThreads?: number
}

/**
 * What the runtime provides: the pipeline's services and Athena queries.
 *
 * @since 0.1.0
 * @category models
 */
export type Services = Pipeline.Services | AthenaQuery.AthenaQuery

/**
 * Every service, each with its own client, created with the layer and destroyed with it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (config: Config): Layer.Layer<Services> => {
  const aws = (service: Service) => forService(config.aws, config.endpoints, service)
  const blobStore = BlobStoreS3.layer({ aws: aws("s3"), bucket: config.bucket })
  return Layer.mergeAll(
    RunTableDynamo.layer({ aws: aws("dynamodb"), tableName: config.runsTable }),
    JournalDynamo.layer({ aws: aws("dynamodb"), tableName: config.journalTable }).pipe(Layer.provide(blobStore)),
    WorkQueueSqs.layer({ aws: aws("sqs"), queues: config.queues }),
    CatalogGlue.layer({ aws: aws("glue"), bucket: config.bucket, database: config.glueDatabase, partitionProjection: config.partitionProjection }),
    AthenaQuery.layer({
      aws: aws("athena"),
      workgroup: config.athena.workgroup,
      database: config.glueDatabase,
      ...(config.athena.outputLocation === undefined ? {} : { outputLocation: config.athena.outputLocation })
    }),
    Fitter.layerNative(config.fitThreads === undefined ? {} : { threads: config.fitThreads }),
    blobStore
  )
}

/**
 * The environment variables `fromEnv` reads.
 *
 * @since 0.1.0
 * @category constants
 */
export const ENV = {
  region: "AWS_REGION",
  endpoint: "PHS_AWS_ENDPOINT",
  s3Endpoint: "PHS_S3_ENDPOINT",
  sqsEndpoint: "PHS_SQS_ENDPOINT",
  dynamodbEndpoint: "PHS_DYNAMODB_ENDPOINT",
  bucket: "PHS_BUCKET",
  runsTable: "PHS_RUNS_TABLE",
  journalTable: "PHS_JOURNAL_TABLE",
  fitQueue: "PHS_FIT_QUEUE_URL",
  fitDlq: "PHS_FIT_DLQ_URL",
  slowQueue: "PHS_SLOW_QUEUE_URL",
  slowDlq: "PHS_SLOW_DLQ_URL",
  stageQueue: "PHS_STAGE_QUEUE_URL",
  stageDlq: "PHS_STAGE_DLQ_URL",
  catalogQueue: "PHS_CATALOG_QUEUE_URL",
  glueDatabase: "PHS_GLUE_DATABASE",
  partitionProjection: "PHS_PARTITION_PROJECTION",
  athenaWorkgroup: "PHS_ATHENA_WORKGROUP",
  athenaOutput: "PHS_ATHENA_OUTPUT",
  fitThreads: "PHS_FIT_THREADS"
} as const

const endpointOverrides = EffectConfig.all(
  [["s3", ENV.s3Endpoint], ["sqs", ENV.sqsEndpoint], ["dynamodb", ENV.dynamodbEndpoint]].map(([service, name]) =>
    EffectConfig.map(Settings.optional(name), Option.map((url) => [service as Service, url] as const))
  )
).pipe(EffectConfig.map((pairs): Partial<Record<Service, string>> => Object.fromEntries(pairs.flatMap(Option.toArray))))

const projection = Settings.optionalParsed(ENV.partitionProjection, (v) =>
  v === "true" || v === "false" ? Either.right(v === "true") : Either.left('must be "true" or "false"')
)

/**
 * The runtime's config as an Effect `Config` over the variables of `ENV` (read it with any
 * `ConfigProvider`).
 *
 * @since 0.1.0
 * @category settings
 */
export const config: EffectConfig.Config<Config> = EffectConfig.all({
  region: Settings.required(ENV.region),
  endpoint: Settings.optional(ENV.endpoint),
  endpoints: endpointOverrides,
  bucket: Settings.required(ENV.bucket),
  runsTable: Settings.required(ENV.runsTable),
  journalTable: Settings.required(ENV.journalTable),
  fitQueue: Settings.required(ENV.fitQueue),
  fitDlq: Settings.required(ENV.fitDlq),
  slowQueue: Settings.required(ENV.slowQueue),
  slowDlq: Settings.required(ENV.slowDlq),
  stageQueue: Settings.optional(ENV.stageQueue),
  stageDlq: Settings.optional(ENV.stageDlq),
  catalogQueue: Settings.optional(ENV.catalogQueue),
  glueDatabase: Settings.optional(ENV.glueDatabase),
  partitionProjection: projection,
  athenaWorkgroup: Settings.optional(ENV.athenaWorkgroup),
  athenaOutput: Settings.optional(ENV.athenaOutput),
  fitThreads: Settings.optionalParsed(ENV.fitThreads, Settings.positiveInteger)
}).pipe(
  EffectConfig.map(
    (c): Config => ({
      aws: { region: c.region, ...Option.match(c.endpoint, { onNone: () => ({}), onSome: (endpoint) => ({ endpoint }) }) },
      endpoints: c.endpoints,
      bucket: c.bucket,
      runsTable: c.runsTable,
      journalTable: c.journalTable,
      queues: {
        fit: { url: c.fitQueue, dlqUrl: c.fitDlq },
        slow: { url: c.slowQueue, dlqUrl: c.slowDlq },
        ...(Option.isSome(c.stageQueue) && Option.isSome(c.stageDlq) ? { stage: { url: c.stageQueue.value, dlqUrl: c.stageDlq.value } } : {})
      },
      ...Option.match(c.catalogQueue, { onNone: () => ({}), onSome: (catalogQueueUrl) => ({ catalogQueueUrl }) }),
      glueDatabase: Option.getOrElse(c.glueDatabase, () => Keys.RESULT_DATABASE),
      partitionProjection: Option.getOrElse(c.partitionProjection, () => true),
      athena: {
        workgroup: Option.getOrElse(c.athenaWorkgroup, () => "primary"),
        outputLocation: Option.getOrElse(c.athenaOutput, () => `s3://${c.bucket}/${Keys.PREFIXES.athenaResults}`)
      },
      ...Option.match(c.fitThreads, { onNone: () => ({}), onSome: (fitThreads) => ({ fitThreads }) })
    })
  )
)

/**
 * The config from environment variables (`config` over them); what is missing or malformed
 * is named.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromEnv = (env: Readonly<Record<string, string | undefined>>): Either.Either<Config, Errors.InvalidInput> => Settings.fromEnv(config, env)
