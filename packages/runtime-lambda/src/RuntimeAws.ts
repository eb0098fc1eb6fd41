/**
 * The aws runtime: every service the pipeline needs on S3, SQS, DynamoDB and Glue, plus
 * Athena queries and the native fitter, as one layer. `fromEnv` reads the environment
 * contract of the Lambda functions (see the package README).
 *
 * @since 0.1.0
 */
import { Errors, Fitter, type Pipeline, type WorkQueue } from "@phs/core"
import { Either, Layer } from "effect"
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
  readonly queues: Readonly<Record<WorkQueue.QueueName, WorkQueueSqs.QueueUrls>>
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
  catalogQueue: "PHS_CATALOG_QUEUE_URL",
  glueDatabase: "PHS_GLUE_DATABASE",
  partitionProjection: "PHS_PARTITION_PROJECTION",
  athenaWorkgroup: "PHS_ATHENA_WORKGROUP",
  athenaOutput: "PHS_ATHENA_OUTPUT",
  fitThreads: "PHS_FIT_THREADS"
} as const

/**
 * The config from environment variables; what is missing or malformed is named.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromEnv = (env: Readonly<Record<string, string | undefined>>): Either.Either<Config, Errors.InvalidInput> => {
  const problems: string[] = []
  const get = (name: string) => {
    const v = env[name]
    return v === undefined || v.trim() === "" ? undefined : v.trim()
  }
  const required = (name: string) => {
    const v = get(name)
    if (v === undefined) problems.push(`${name} is not set`)
    return v ?? ""
  }
  const projection = get(ENV.partitionProjection) ?? "true"
  if (projection !== "true" && projection !== "false") problems.push(`${ENV.partitionProjection} must be "true" or "false", got ${JSON.stringify(projection)}`)
  const threads = get(ENV.fitThreads)
  if (threads !== undefined && !(Number.isInteger(Number(threads)) && Number(threads) >= 1))
    problems.push(`${ENV.fitThreads} must be a positive integer, got ${JSON.stringify(threads)}`)
  const endpoint = get(ENV.endpoint)
  const endpoints: Partial<Record<Service, string>> = {}
  for (const [service, name] of [["s3", ENV.s3Endpoint], ["sqs", ENV.sqsEndpoint], ["dynamodb", ENV.dynamodbEndpoint]] as const) {
    const v = get(name)
    if (v !== undefined) endpoints[service] = v
  }
  const bucket = required(ENV.bucket)
  const config: Config = {
    aws: { region: required(ENV.region), ...(endpoint === undefined ? {} : { endpoint }) },
    endpoints,
    bucket,
    runsTable: required(ENV.runsTable),
    journalTable: required(ENV.journalTable),
    queues: {
      fit: { url: required(ENV.fitQueue), dlqUrl: required(ENV.fitDlq) },
      slow: { url: required(ENV.slowQueue), dlqUrl: required(ENV.slowDlq) }
    },
    ...(get(ENV.catalogQueue) === undefined ? {} : { catalogQueueUrl: get(ENV.catalogQueue) }),
    glueDatabase: get(ENV.glueDatabase) ?? "phspectra",
    partitionProjection: projection !== "false",
    athena: { workgroup: get(ENV.athenaWorkgroup) ?? "primary", outputLocation: get(ENV.athenaOutput) ?? `s3://${bucket}/athena-results/` },
    ...(threads === undefined ? {} : { fitThreads: Number(threads) })
  }
  return problems.length > 0 ? Either.left(new Errors.InvalidInput({ reason: `bad environment: ${problems.join("; ")}` })) : Either.right(config)
}
