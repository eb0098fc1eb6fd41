/**
 * The catalog queue: a worker that sees its run settle sends `{ runId }` there, and the
 * catalog handler finishes the run. Sending twice is harmless (`finishRun` is idempotent).
 *
 * @since 0.1.0
 */
import { ChangeMessageVisibilityCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs"
import type { Errors } from "@phs/core"
import { Context, Effect, Layer } from "effect"
import { clientOptions, type AwsConfig } from "./AwsConfig.js"
import { callStorage } from "./internal/aws.js"
import type { CatalogMessage } from "./Queues.js"
import { toSeconds } from "./WorkQueueSqs.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface CatalogQueue {
  /** Asks for the catalog of a settled run. */
  readonly notify: (runId: string) => Effect.Effect<void, Errors.StorageError>
  /** Hides a delivered catalog message for `delayMs` (its retry comes sooner than the visibility timeout). */
  readonly retryLater: (receiptHandle: string, delayMs: number) => Effect.Effect<void, Errors.StorageError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export const CatalogQueue = Context.GenericTag<CatalogQueue>("@phs/runtime-lambda/CatalogQueue")

/**
 * The catalog queue at `url`; the client is created with the layer and destroyed with it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: { readonly aws: AwsConfig; readonly url: string }): Layer.Layer<CatalogQueue> =>
  Layer.scoped(
    CatalogQueue,
    Effect.map(
      Effect.acquireRelease(Effect.sync(() => new SQSClient(clientOptions(options.aws))), (client) => Effect.sync(() => client.destroy())),
      (client): CatalogQueue => ({
        notify: (runId) =>
          callStorage(
            "sqs notify catalog",
            (abortSignal) =>
              client.send(new SendMessageCommand({ QueueUrl: options.url, MessageBody: JSON.stringify({ runId } satisfies CatalogMessage) }), {
                abortSignal
              }),
            runId
          ).pipe(Effect.asVoid),
        retryLater: (receiptHandle, delayMs) =>
          callStorage("sqs catalog retry later", (abortSignal) =>
            client.send(new ChangeMessageVisibilityCommand({ QueueUrl: options.url, ReceiptHandle: receiptHandle, VisibilityTimeout: toSeconds(delayMs) }), {
              abortSignal
            })
          ).pipe(Effect.asVoid)
      })
    )
  )
