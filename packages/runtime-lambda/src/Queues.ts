/**
 * The queues of the aws runtime, as data for the CDK stack and the emulator tests: each
 * work queue has a dead-letter queue that SQS fills by the redrive policy, after as many
 * deliveries as the core's `WorkQueue.maxReceives` (fit 3, slow 2: one retry). The catalog
 * queue carries `{ runId }` when a run settles.
 *
 * @since 0.1.0
 */
import { Delivery, WorkQueue } from "@phs/core"

/**
 * Deliveries before SQS dead-letters a message, per queue.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxReceiveCount: Readonly<Record<WorkQueue.QueueName, number>> = WorkQueue.maxReceives

/**
 * Deliveries of a catalog message before the catalog gives up and fails the run (the
 * stack's catalog queue should dead-letter after as many).
 *
 * @since 0.1.0
 * @category constants
 */
export const catalogMaxReceiveCount = Delivery.maxDeliveries.catalog

/**
 * The `RedrivePolicy` attribute of a work queue.
 *
 * @since 0.1.0
 * @category constructors
 */
export const redrivePolicy = (queue: WorkQueue.QueueName, deadLetterTargetArn: string): string =>
  JSON.stringify({ deadLetterTargetArn, maxReceiveCount: maxReceiveCount[queue] })

/**
 * The body of a catalog-queue message.
 *
 * @since 0.1.0
 * @category models
 */
export interface CatalogMessage {
  readonly runId: string
}
