/**
 * What the Lambda handlers share: the runtime they run on (built once per container, on the
 * first invocation, from the environment), the catalog queue, and SQS batch processing
 * with partial batch responses.
 *
 * @since 0.1.0
 */
import { Delivery, Errors, Pipeline, RunTable, Settings, Step, WorkQueue } from "@phs/core"
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda"
import { Cause, Clock, Config as EffectConfig, Effect, Either, Exit, Layer, ManagedRuntime, Option, type Schedule } from "effect"
import { forService } from "../AwsConfig.js"
import * as CatalogQueue from "../CatalogQueue.js"
import * as RuntimeAws from "../RuntimeAws.js"
import * as WorkQueueSqs from "../WorkQueueSqs.js"

/**
 * The services a handler runs with.
 *
 * @since 0.1.0
 * @category models
 */
export type Services = RuntimeAws.Services | CatalogQueue.CatalogQueue

/**
 * A handler's runtime and settings.
 *
 * @since 0.1.0
 * @category models
 */
export interface Setup {
  readonly runtime: ManagedRuntime.ManagedRuntime<Services, unknown>
  /**
   * The pipeline every run is driven with (tests of a custom stage); absent: each run's own,
   * composed for the refit mode its record carries ({@link pipelineOf}).
   */
  readonly pipeline?: Pipeline.Pipeline
  /** Chunk lease of a fit, ms (default: the invocation's remaining time). */
  readonly chunkLeaseMs?: number
  /** How a record's transient failures are retried within an invocation (default `Step.defaultRetry`). */
  readonly retry?: Schedule.Schedule<unknown, unknown>
}

/**
 * The pipeline a handler drives `run` with: the setup's, else the one the run was started
 * with (`Pipeline.pipelineOfRun`: its recorded refit mode), so one deployment serves plain
 * and refit runs alike. Every composition shares the split, fit and slow-fit stages
 * (`Pipeline.withStage` adds fan-out and run-level stages only): the splitter, fit and slow
 * workers need no run record; the stage worker and the catalog, which start and run the
 * fan-out stages, do.
 *
 * @since 0.3.0
 * @category utils
 */
export const pipelineOf = (setup: Setup, run: Pick<RunTable.RunRecord, "refit">): Pipeline.Pipeline => setup.pipeline ?? Pipeline.pipelineOfRun(run)

/**
 * The environment variable of the chunk lease override.
 *
 * @since 0.1.0
 * @category constants
 */
export const LEASE_ENV = "PHS_CHUNK_LEASE_MS"

const unset = (operation: string, key: string) =>
  new Errors.StorageError({ operation, key, reason: `${RuntimeAws.ENV.catalogQueue} is not set`, retryable: false })

/**
 * Every service of a handler: the aws runtime and the catalog queue (whose `notify` fails
 * when `catalogQueueUrl` is not configured).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (config: RuntimeAws.Config): Layer.Layer<Services> =>
  Layer.merge(
    RuntimeAws.layer(config),
    config.catalogQueueUrl === undefined
      ? Layer.succeed(CatalogQueue.CatalogQueue, {
          notify: (runId) => Effect.fail(unset("notify catalog", runId)),
          retryLater: (receiptHandle) => Effect.fail(unset("catalog retry later", receiptHandle))
        })
      : CatalogQueue.layer({ aws: forService(config.aws, config.endpoints, "sqs"), url: config.catalogQueueUrl })
  )

/**
 * The setup from the environment (see the README's contract); a bad environment throws
 * once per invocation with every problem named.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromEnv = (env: Readonly<Record<string, string | undefined>> = process.env): Setup => {
  const settings = Settings.fromEnv(EffectConfig.all({ aws: RuntimeAws.config, lease: Settings.optionalParsed(LEASE_ENV, Settings.positiveNumber) }), env)
  const { aws, lease } = Either.getOrThrowWith(settings, (e) => new Error(e.reason))
  return { runtime: ManagedRuntime.make(layer(aws)), ...Option.match(lease, { onNone: () => ({}), onSome: (chunkLeaseMs) => ({ chunkLeaseMs }) }) }
}

/**
 * A value computed on first use and kept (a container's runtime).
 *
 * @since 0.1.0
 * @category constructors
 */
export const once = <A>(make: () => A): (() => A) => {
  let value: Option.Option<A> = Option.none()
  return () => {
    if (Option.isSome(value)) return value.value
    const made = make()
    value = Option.some(made)
    return made
  }
}

/**
 * Writes one JSON line to the function's log.
 *
 * @since 0.1.0
 * @category logging
 */
export const log = (fields: Readonly<Record<string, unknown>>): Effect.Effect<void> => Effect.sync(() => console.log(JSON.stringify(fields)))

/**
 * What became of one SQS record: handled (Lambda deletes it) or to be delivered again.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome = "done" | "retry"

/**
 * Deliveries of a record so far, this one included.
 *
 * @since 0.1.0
 * @category utils
 */
export const receiveCount = (record: SQSRecord): number => Math.max(1, Number(record.attributes?.ApproximateReceiveCount ?? "1") || 1)

/**
 * The `WorkQueue` receipt of a record's delivery.
 *
 * @since 0.1.0
 * @category utils
 */
export const receiptOf = (record: SQSRecord): string =>
  WorkQueueSqs.encodeReceipt({ handle: record.receiptHandle, id: record.messageId, receiveCount: receiveCount(record), body: record.body })

/**
 * Works the records one after the other; the ones to deliver again are the partial batch
 * response's `batchItemFailures`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const processBatch = <R>(event: SQSEvent, work: (record: SQSRecord) => Effect.Effect<Outcome, never, R>) =>
  Effect.map(
    Effect.forEach(event.Records, (record) => Effect.map(work(record), (o) => (o === "retry" ? [{ itemIdentifier: record.messageId }] : []))),
    (failures): SQSBatchResponse => ({ batchItemFailures: failures.flat() })
  )

/**
 * A handler over an engine queue whose messages need only the setup and the body (`slow`,
 * `stage`): every record of the batch worked by `workRecord`.
 *
 * @since 0.3.0
 * @category constructors
 */
export const queueHandler =
  <E>(handler: string, queue: WorkQueue.QueueName, handle: (setup: Setup, body: string) => Effect.Effect<Pipeline.Handled, E, Services>) =>
  (setup: () => Setup) =>
  (event: SQSEvent): Promise<SQSBatchResponse> => {
    const s = setup()
    return s.runtime.runPromise(
      Effect.scoped(
        processBatch(event, (record) =>
          workRecord({ handler, queue, record, handle: handle(s, record.body), ...(s.retry === undefined ? {} : { retry: s.retry }) })
        )
      )
    )
  }

/**
 * Works one engine message (`fit` or `slow`), retrying transient failures a few times first,
 * then doing what `Delivery.decide` says (the same decision as the local driver's):
 * - Ack: handled; a settled run is sent to the catalog queue.
 * - Release (another worker holds the chunk, or a transient failure before the last
 *   delivery): hidden for the decided delay, and kept.
 * - DeadLetter (a chunk failed for good, a fatal error, the last delivery's error): what
 *   the message stood for is settled (`Pipeline.abandon`, unless the handler already failed
 *   the chunk), a settled run is sent to the catalog queue, and the message goes to the
 *   dead letters with the reason, where `phs redrive` / `phs resume` find it.
 * - a defect: kept (it comes back after the visibility timeout). An interruption fails the
 *   invocation, as a crash would.
 *
 * @since 0.1.0
 * @category combinators
 */
export const workRecord = <E, R>(args: {
  readonly handler: string
  readonly queue: WorkQueue.QueueName
  readonly record: SQSRecord
  readonly handle: Effect.Effect<Pipeline.Handled, E, R>
  readonly retry?: Schedule.Schedule<unknown, unknown>
}): Effect.Effect<Outcome, never, R | Services> =>
  Effect.gen(function* () {
    const { handler, queue, record } = args
    const started = yield* Clock.currentTimeMillis
    const count = receiveCount(record)
    const q = yield* WorkQueue.WorkQueue
    const receipt = receiptOf(record)
    const done = (fields: Record<string, unknown>) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        log({ handler, messageId: record.messageId, receiveCount: count, ...fields, ms: now - started })
      )
    // Transient failures are retried here first: the stage replays what it already did from
    // the journal, and a delivery spent on a blip is one fewer before the dead letters.
    const exit = yield* Effect.exit(Effect.retry(args.handle, { schedule: args.retry ?? Step.defaultRetry, while: Errors.isRetryable }))
    if (Exit.isFailure(exit)) {
      if (Cause.isInterruptedOnly(exit.cause)) return yield* Effect.interrupt
      if (Option.isNone(Cause.failureOption(exit.cause))) {
        yield* done({ outcome: "retry", defect: Cause.pretty(exit.cause) })
        return "retry"
      }
    }
    const outcome = Exit.isSuccess(exit) ? Either.right(exit.value) : Either.left(Option.getOrThrow(Cause.failureOption(exit.cause)))
    const decision = Delivery.decide(queue, count, outcome, Pipeline.errorText)
    const handled = Exit.isSuccess(exit) ? exit.value : undefined
    const reason = decision._tag === "DeadLetter" ? decision.reason : Either.isLeft(outcome) ? Pipeline.errorText(outcome.left) : undefined
    if (decision._tag === "Release") {
      yield* Effect.ignore(q.release(queue, receipt, decision.delayMs))
      yield* done(handled?._tag === "Busy" ? { outcome: "busy", retryInMs: decision.delayMs } : { outcome: "retry", reason })
      return "retry"
    }
    // What the message stood for is settled before it is let go: a failure here keeps it.
    const settled = yield* Effect.exit(
      Effect.gen(function* () {
        const toNotify =
          decision._tag === "DeadLetter" && decision.settle
            ? Option.flatMap(yield* Pipeline.abandon(queue, record.body, decision.reason), (r) =>
                r.status === "RUNNING" && RunTable.isSettled(r) ? Option.some(r.runId) : Option.none()
              )
            : handled !== undefined && handled._tag !== "Busy" && handled.runSettled
              ? Option.some(handled.runId)
              : Option.none<string>()
        if (Option.isSome(toNotify)) yield* Effect.flatMap(CatalogQueue.CatalogQueue, (c) => c.notify(toNotify.value))
        if (decision._tag === "DeadLetter") yield* q.deadLetter(queue, receipt, decision.reason)
      })
    )
    if (Exit.isFailure(settled)) {
      yield* done({ outcome: "retry", ...(reason === undefined ? {} : { reason }), giveUp: Cause.pretty(settled.cause) })
      return "retry"
    }
    if (decision._tag === "Ack") {
      yield* done({ outcome: "done", runId: handled?._tag === "Done" ? handled.runId : undefined, runSettled: handled?._tag === "Done" && handled.runSettled })
      return "done"
    }
    yield* done(
      handled?._tag === "Failed"
        ? { outcome: "chunk-failed", runId: handled.runId, runSettled: handled.runSettled, reason: handled.reason }
        : { outcome: "dead-lettered", reason }
    )
    return "done"
  })

/**
 * A settled run is sent to the catalog queue.
 *
 * @since 0.1.0
 * @category combinators
 */
export const notifyIfSettled = (run: RunTable.RunRecord) =>
  RunTable.isSettled(run) ? Effect.flatMap(CatalogQueue.CatalogQueue, (c) => c.notify(run.runId)) : Effect.void
