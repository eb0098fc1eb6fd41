/**
 * A fresh deployment on the emulators (bucket, run and journal tables, fit/slow queues with
 * their dead-letter queues, catalog queue) and the four handlers over it, with optional
 * fault-injecting wrappers around the services.
 */
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3"
import { SQSClient } from "@aws-sdk/client-sqs"
import { BlobStore, Fitter, Pipeline, ResultParquet, RunTable, type ResultSchema } from "@phs/core"
import {
  AwsConfig,
  CatalogHandler,
  HandlerSetup,
  RuntimeAws,
  SlowWorkerHandler,
  StageWorkerHandler,
  SplitterHandler,
  Tables,
  WorkerHandler
} from "@phs/runtime-lambda"
import { Context, Effect, Layer, ManagedRuntime, Option, type Schedule } from "effect"
import { phsAsync, type Result } from "../support/cli.js"
import { cubeFits, type CubeOptions } from "../support/cubes.js"
import { CREDENTIALS, createQueues, createTable, deleteBucket, deleteTable, REGION, uniqueName, type WorkQueueUrls } from "./emulators.js"
import { endpoints as suiteEndpoints } from "./suite.js"
import { context, drain, type DrainOptions, type DrainStats, invokeAsync, objectCreated } from "./lambda.js"
import type { Context as LambdaContext, SQSBatchResponse, SQSEvent } from "aws-lambda"
import type { FauxqsServer } from "fauxqs"

export interface Deployment {
  readonly config: RuntimeAws.Config
  /** The handlers' environment contract for this deployment. */
  readonly env: Readonly<Record<string, string>>
  readonly queues: WorkQueueUrls
  readonly sqs: SQSClient
  readonly s3: S3Client
  readonly dispose: () => Promise<void>
}

export const deploy = async (endpoints: { readonly s3: string; readonly dynamodb: string; readonly sqs: string }, sqsServer: FauxqsServer): Promise<Deployment> => {
  const bucket = uniqueName("phs")
  const runsTable = uniqueName("runs")
  const journalTable = uniqueName("journal")
  const s3 = new S3Client({ ...AwsConfig.clientOptions({ region: REGION, endpoint: endpoints.s3, credentials: CREDENTIALS }), forcePathStyle: true })
  await s3.send(new CreateBucketCommand({ Bucket: bucket }))
  await createTable(endpoints.dynamodb, runsTable, Tables.runsTable)
  await createTable(endpoints.dynamodb, journalTable, Tables.journalTable)
  const queues = createQueues(sqsServer)
  const sqs = new SQSClient(AwsConfig.clientOptions({ region: REGION, endpoint: endpoints.sqs, credentials: CREDENTIALS }))
  const config: RuntimeAws.Config = {
    aws: { region: REGION, credentials: CREDENTIALS },
    endpoints: { s3: endpoints.s3, sqs: endpoints.sqs, dynamodb: endpoints.dynamodb },
    bucket,
    runsTable,
    journalTable,
    queues: { fit: queues.fit, slow: queues.slow, stage: queues.stage },
    catalogQueueUrl: queues.catalog,
    glueDatabase: "phspectra",
    partitionProjection: true,
    athena: { workgroup: "primary" },
    fitThreads: 2
  }
  const env = {
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    PHS_S3_ENDPOINT: endpoints.s3,
    PHS_SQS_ENDPOINT: endpoints.sqs,
    PHS_DYNAMODB_ENDPOINT: endpoints.dynamodb,
    PHS_BUCKET: bucket,
    PHS_RUNS_TABLE: runsTable,
    PHS_JOURNAL_TABLE: journalTable,
    PHS_FIT_QUEUE_URL: queues.fit.url,
    PHS_FIT_DLQ_URL: queues.fit.dlqUrl,
    PHS_SLOW_QUEUE_URL: queues.slow.url,
    PHS_SLOW_DLQ_URL: queues.slow.dlqUrl,
    PHS_STAGE_QUEUE_URL: queues.stage.url,
    PHS_STAGE_DLQ_URL: queues.stage.dlqUrl,
    PHS_CATALOG_QUEUE_URL: queues.catalog,
    PHS_FIT_THREADS: "2",
    PHS_CHUNK_LEASE_MS: "1500"
  }
  return {
    config,
    env,
    queues,
    sqs,
    s3,
    dispose: async () => {
      await deleteBucket(endpoints.s3, bucket)
      await deleteTable(endpoints.dynamodb, runsTable)
      await deleteTable(endpoints.dynamodb, journalTable)
      s3.destroy()
      sqs.destroy()
    }
  }
}

/** Changes some of the handlers' services (a fault-injecting wrapper, a fake). */
export type Wrap = (services: Context.Context<HandlerSetup.Services>) => Context.Context<HandlerSetup.Services>

/** Wraps one service. */
export const over =
  <I, S>(tag: Context.Tag<I, S>, f: (service: S) => S): Wrap =>
  (ctx) =>
    Context.add(ctx, tag, f(Context.get(ctx as Context.Context<I>, tag)))

export interface Handlers {
  readonly splitter: ReturnType<typeof SplitterHandler.make>
  readonly worker: ReturnType<typeof WorkerHandler.make>
  readonly slowWorker: ReturnType<typeof SlowWorkerHandler.make>
  readonly stageWorker: ReturnType<typeof StageWorkerHandler.make>
  readonly catalog: ReturnType<typeof CatalogHandler.make>
  readonly run: <A, E>(effect: Effect.Effect<A, E, HandlerSetup.Services>) => Promise<A>
  readonly dispose: () => Promise<void>
}

/** The four handlers on one runtime over `config`, as `make` builds them for Lambda. */
export const handlers = (
  config: RuntimeAws.Config,
  options: {
    readonly wraps?: ReadonlyArray<Wrap>
    readonly chunkLeaseMs?: number
    readonly retry?: Schedule.Schedule<unknown, unknown>
    readonly pipeline?: Pipeline.Pipeline
  } = {}
): Handlers => {
  const wraps = options.wraps ?? []
  const layer = Layer.effectContext(Effect.map(Effect.context<HandlerSetup.Services>(), (ctx) => wraps.reduce((c, w) => w(c), ctx))).pipe(
    Layer.provide(HandlerSetup.layer(config))
  )
  const runtime = ManagedRuntime.make(layer)
  const setup = (): HandlerSetup.Setup => ({
    runtime,
    chunkLeaseMs: options.chunkLeaseMs ?? 1500,
    ...(options.pipeline === undefined ? {} : { pipeline: options.pipeline }),
    ...(options.retry === undefined ? {} : { retry: options.retry })
  })
  return {
    splitter: SplitterHandler.make(setup),
    worker: WorkerHandler.make(setup),
    slowWorker: SlowWorkerHandler.make(setup),
    stageWorker: StageWorkerHandler.make(setup),
    catalog: CatalogHandler.make(setup),
    run: (effect) => runtime.runPromise(effect),
    dispose: () => runtime.dispose()
  }
}

export interface Upload {
  readonly survey: string
  readonly cube: CubeOptions
  readonly params?: Readonly<Record<string, unknown>>
  readonly chunkSize?: number
}

export const manifestOf = (u: Upload) => ({
  cube_key: `cubes/${u.survey}.fits`,
  survey: u.survey,
  params: u.params ?? { beta: 3.5 },
  chunk_size: u.chunkSize ?? 8
})

export const putObject = (d: Deployment, key: string, bytes: Uint8Array) =>
  d.s3.send(new PutObjectCommand({ Bucket: d.config.bucket, Key: key, Body: bytes }))

/** Uploads a cube and its manifest, as a user would; returns the manifest's key. */
export const upload = async (d: Deployment, u: Upload): Promise<string> => {
  await putObject(d, `cubes/${u.survey}.fits`, cubeFits(u.cube))
  const key = `manifests/${u.survey}-${uniqueName("m")}.json`
  await putObject(d, key, new TextEncoder().encode(JSON.stringify(manifestOf(u))))
  return key
}

export interface Flow {
  readonly started: SplitterHandler.Result
  readonly fit: DrainStats
  readonly slow: DrainStats
  readonly catalog: DrainStats
}

export interface FlowOptions {
  /** What `getRemainingTimeInMillis` says at the start of each fit invocation (default 15 min). */
  readonly remainingMs?: number
  readonly drain?: DrainOptions
  /** Stands between the event source and the worker (duplicating messages, …). */
  readonly aroundWorker?: (worker: Handlers["worker"]) => Handlers["worker"]
}

type SplitterFn = (event: SplitterHandler.ObjectCreated) => Promise<SplitterHandler.Result>
type SqsFn = (event: SQSEvent, ctx: LambdaContext) => Promise<SQSBatchResponse>

/** The whole flow for an uploaded manifest: splitter, then the fit, slow and catalog queues drained through their handlers. */
export const flow = async (
  d: Deployment,
  h: { readonly splitter: SplitterFn; readonly worker: Handlers["worker"]; readonly slowWorker: SqsFn; readonly catalog: SqsFn },
  manifestKey: string,
  options: FlowOptions = {}
): Promise<Flow> => {
  const started = await invokeAsync(() => h.splitter(objectCreated(d.config.bucket, manifestKey)))
  const worker = (options.aroundWorker ?? ((w) => w))(h.worker)
  const fit = await drain(d.sqs, d.queues.fit.url, (e) => worker(e, context(options.remainingMs ?? 900_000)), options.drain)
  const slow = await drain(d.sqs, d.queues.slow.url, (e) => h.slowWorker(e, context(900_000)), options.drain)
  const catalog = await drain(d.sqs, d.queues.catalog, (e) => h.catalog(e, context(900_000)), options.drain)
  return { started, fit, slow, catalog }
}

export const runIdOf = (f: Flow): string => {
  if (f.started._tag !== "Started") throw new Error(`the splitter did not start a run: ${JSON.stringify(f.started)}`)
  return f.started.runId
}

export const getRun = (runId: string) => Effect.flatMap(RunTable.RunTable, (t) => t.getRun(runId)).pipe(Effect.map(Option.getOrThrow))

export const listChunks = (runId: string) => Effect.flatMap(RunTable.RunTable, (t) => t.listChunks(runId))

/** Every row of a survey's partition of the result table, sorted by (y, x). */
export const tableRows = (survey: string) =>
  Effect.gen(function* () {
    const store = yield* BlobStore.BlobStore
    const rows: ResultSchema.DecompositionRow[] = []
    for (const key of yield* store.list(`decompositions/survey=${survey}/`)) rows.push(...(yield* ResultParquet.decodeRows(yield* store.get(key))))
    return rows.sort((a, b) => a.y - b.y || a.x - b.x)
  })

/** Reads a JSON blob. */
export const blobJson = (key: string) =>
  Effect.flatMap(BlobStore.BlobStore, (s) => s.get(key)).pipe(Effect.map((b) => JSON.parse(new TextDecoder().decode(b)) as Record<string, unknown>))

/** The same cube and manifest through the core's memory services (`Pipeline.start` + `Pipeline.drive`): the local reference. */
export const runLocally = (u: Upload) =>
  Effect.gen(function* () {
    yield* Effect.flatMap(BlobStore.BlobStore, (s) => s.put(`cubes/${u.survey}.fits`, cubeFits(u.cube)))
    const input = yield* Pipeline.prepare(manifestOf(u))
    yield* Pipeline.start(Pipeline.standard, input)
    const run = yield* Pipeline.drive(Pipeline.standard, input.runId, { pollMs: 5 })
    return { run, rows: yield* tableRows(u.survey) }
  })

export const fitterThreads = Fitter.layerNative({ threads: 2 })

/** A fresh deployment on the emulators for `f`, disposed after. */
export const withDeployment = async <A>(sqs: { readonly endpoint: string; readonly server: FauxqsServer }, f: (d: Deployment) => Promise<A>): Promise<A> => {
  const d = await deploy({ ...suiteEndpoints(), sqs: sqs.endpoint }, sqs.server)
  try {
    return await f(d)
  } finally {
    await d.dispose()
  }
}

/** Handlers over a deployment for `f`, disposed after. */
export const withHandlers = async <A>(d: Deployment, options: Parameters<typeof handlers>[1], f: (h: Handlers) => Promise<A>): Promise<A> => {
  const h = handlers(d.config, options)
  try {
    return await f(h)
  } finally {
    await h.dispose()
  }
}

/** The fit, slow and catalog queues drained through the handlers, as the event source mappings do. */
export const drainAll = async (d: Deployment, h: Handlers) => {
  await drain(d.sqs, d.queues.fit.url, (e) => h.worker(e, context(900_000)))
  await drain(d.sqs, d.queues.slow.url, (e) => h.slowWorker(e))
  await drain(d.sqs, d.queues.catalog, (e) => h.catalog(e))
}

/** The bucket's keys under a prefix. */
export const bucketKeys = async (d: Deployment, prefix: string): Promise<string[]> =>
  ((await d.s3.send(new ListObjectsV2Command({ Bucket: d.config.bucket, Prefix: prefix }))).Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [o.Key]))

/** Waits for `f` to give something, polling. */
export const eventually = async <A>(what: string, f: () => Promise<A | undefined>, timeoutMs = 60_000): Promise<A> => {
  for (const until = Date.now() + timeoutMs; ; ) {
    const v = await f()
    if (v !== undefined) return v
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

/** `phs pipeline TILES … --target aws` driven to its end: each tile's manifest taken through the handlers as it appears. */
export const runSetOnAws = async (d: Deployment, tiles: ReadonlyArray<string>, args: ReadonlyArray<string>) => {
  const cli = phsAsync([...args, "--target", "aws"], { env: d.env })
  const h = handlers(d.config)
  try {
    const seen = new Set<string>()
    for (const tile of tiles) {
      const key = await eventually(`the manifest of ${tile}`, async () => (await bucketKeys(d, "manifests/")).find((k) => !seen.has(k)))
      seen.add(key)
      await flow(d, h, key)
    }
  } finally {
    await h.dispose()
  }
  return cli.done
}

/** `phs resume RUN --target aws` with the handlers draining what it reopened; `f` sees its result and the handlers. */
export const resumeOnAws = (d: Deployment, runId: string, f: (r: Result, h: Handlers) => Promise<void>) =>
  withHandlers(d, {}, async (h) => {
    const cli = phsAsync(["resume", runId, "--target", "aws"], { env: d.env })
    await eventually("the run reopened", async () => {
      const run = await h.run(getRun(runId))
      return run.status === "RUNNING" && run.jobsFailed === 0 ? run : undefined
    })
    await drainAll(d, h)
    await f(await cli.done, h)
  })
