/**
 * What the Lambda handlers share: the runtime they run on (built once per container, on the
 * first invocation, from the environment), the catalog queue, and SQS batch processing
 * with partial batch responses.
 *
 * @since 0.1.0
 */
import { Errors, Pipeline, RunTable, Step, WorkQueue } from "@phs/core"
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda"
import { Cause, Clock, Effect, Either, Exit, Layer, ManagedRuntime, Option, type Schedule } from "effect"
import { forService } from "../AwsConfig.js"
import * as CatalogQueue from "../CatalogQueue.js"
import * as Deadline from "../Deadline.js"
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
  /** The pipeline the handlers drive (default `Pipeline.standard`). */
  readonly pipeline?: Pipeline.Pipeline
  /** Chunk lease of a fit, ms (default: the invocation's remaining time). */
  readonly chunkLeaseMs?: number
  /** How a record's transient failures are retried within an invocation (default `Step.defaultRetry`). */
  readonly retry?: Schedule.Schedule<unknown, unknown>
}

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
  const config = Either.getOrThrowWith(RuntimeAws.fromEnv(env), (e) => new Error(e.reason))
  const lease = env[LEASE_ENV]
  if (lease !== undefined && !(Number.isFinite(Number(lease)) && Number(lease) > 0))
    throw new Error(`bad environment: ${LEASE_ENV} must be a positive number of milliseconds, got ${JSON.stringify(lease)}`)
  return { runtime: ManagedRuntime.make(layer(config)), ...(lease === undefined ? {} : { chunkLeaseMs: Number(lease) }) }
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
 * Works one engine message (`fit` or `slow`), retrying transient failures a few times first:
 * - `Done` / `Failed` (a chunk failed for good): handled; a settled run is sent to the catalog queue.
 * - `Busy` (another worker holds the chunk's lease): hidden until the lease ends, and kept.
 * - a retryable error before the last delivery: hidden for a backoff, and kept.
 * - any other error, or the last delivery's: given up (`giveUp`: settle what the message
 *   stood for, then dead-letter it with the reason).
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
  readonly giveUp: (reason: string) => Effect.Effect<void, unknown, Services>
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
    if (Exit.isSuccess(exit)) {
      const handled = exit.value
      if (handled._tag === "Busy") {
        yield* Effect.ignore(q.release(queue, receipt, handled.retryInMs))
        yield* done({ outcome: "busy", retryInMs: handled.retryInMs })
        return "retry"
      }
      if (handled.runSettled) {
        const notified = yield* Effect.exit(Effect.flatMap(CatalogQueue.CatalogQueue, (c) => c.notify(handled.runId)))
        if (Exit.isFailure(notified)) {
          yield* done({ outcome: "retry", runId: handled.runId, reason: `catalog queue: ${Cause.pretty(notified.cause)}` })
          return "retry"
        }
      }
      yield* done({
        outcome: handled._tag === "Done" ? "done" : "chunk-failed",
        runId: handled.runId,
        runSettled: handled.runSettled,
        ...(handled._tag === "Failed" ? { reason: handled.reason } : {})
      })
      return "done"
    }
    if (Cause.isInterruptedOnly(exit.cause)) return yield* Effect.interrupt
    const failure = Cause.failureOption(exit.cause)
    if (Option.isNone(failure)) {
      yield* done({ outcome: "retry", defect: Cause.pretty(exit.cause) })
      return "retry"
    }
    const reason = Pipeline.errorText(failure.value)
    if (Errors.isRetryable(failure.value) && count < WorkQueue.maxReceives[queue]) {
      yield* Effect.ignore(q.release(queue, receipt, Deadline.retryDelayMs(count)))
      yield* done({ outcome: "retry", reason })
      return "retry"
    }
    const gaveUp = yield* Effect.exit(Effect.zipRight(args.giveUp(reason), q.deadLetter(queue, receipt, reason)))
    if (Exit.isFailure(gaveUp)) {
      yield* done({ outcome: "retry", reason, giveUp: Cause.pretty(gaveUp.cause) })
      return "retry"
    }
    yield* done({ outcome: "dead-lettered", reason })
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
