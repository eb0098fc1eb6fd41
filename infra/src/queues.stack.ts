/**
 * Queues: the work between the stages. `fit` carries one message per chunk (splitter →
 * worker), `slow` the spectra that blew their time budget (worker → slow worker), `stage`
 * the chunks of every user fan-out stage (catalog → stage worker, routed by the stage name in
 * the message: one queue whatever the pipeline), `catalog` one message per settled run (and
 * per finished fan-out stage); each has its own dead-letter queue. `splitFailures` holds the
 * manifest events the splitter failed on after its retries.
 *
 * @since 0.1.0
 */
import { CfnOutput, Duration, Stack, type StackProps } from "aws-cdk-lib"
import * as sqs from "aws-cdk-lib/aws-sqs"
import { NagSuppressions } from "cdk-nag"
import { Delivery } from "@phs/core/kernel"
import type { Construct } from "constructs"

/**
 * A work queue and the dead-letter queue its poison messages end in.
 *
 * @since 0.1.0
 * @category models
 */
export interface QueueWithDlq {
  readonly queue: sqs.IQueue
  readonly deadLetterQueue: sqs.IQueue
  /** A consumer's timeout must not exceed it. */
  readonly visibilityTimeout: Duration
  /** Receives before a message moves to the dead-letter queue. */
  readonly maxReceiveCount: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PipelineQueues {
  readonly fit: QueueWithDlq
  readonly slow: QueueWithDlq
  /** Every user fan-out stage's chunks (`Stage.fanOut`). */
  readonly stage: QueueWithDlq
  readonly catalog: QueueWithDlq
  /** The splitter's asynchronous on-failure destination: manifest events it gave up on. */
  readonly splitFailures: sqs.IQueue
}

/**
 * @since 0.1.0
 * @category models
 */
export interface QueuesStackProps extends StackProps {
  /** How long a dead letter is kept for inspection and redrive. Default 14 days. */
  readonly deadLetterRetention?: Duration
}

/**
 * @since 0.1.0
 * @category stacks
 */
export class QueuesStack extends Stack {
  readonly queues: PipelineQueues

  constructor(scope: Construct, id: string, props: QueuesStackProps = {}) {
    super(scope, id, props)
    const deadLetterRetention = props.deadLetterRetention ?? Duration.days(14)
    const secure = { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true } as const

    const withDlq = (name: string, visibilityTimeout: Duration, maxReceiveCount: number): QueueWithDlq => {
      const deadLetterQueue = new sqs.Queue(this, `${name}Dlq`, { ...secure, retentionPeriod: deadLetterRetention })
      const queue = new sqs.Queue(this, name, {
        ...secure,
        visibilityTimeout,
        retentionPeriod: Duration.days(4),
        deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount }
      })
      return { queue, deadLetterQueue, visibilityTimeout, maxReceiveCount }
    }

    // Every consumer runs up to Lambda's 15-minute maximum; a visibility timeout of 16 minutes
    // keeps a message hidden for the whole invocation (Lambda rejects a shorter one).
    const consumerWindow = Duration.minutes(16)

    const splitFailures = new sqs.Queue(this, "SplitFailures", { ...secure, retentionPeriod: deadLetterRetention })
    NagSuppressions.addResourceSuppressions(splitFailures, [
      {
        id: "AwsSolutions-SQS3",
        reason:
          "This queue is itself a dead-letter destination: the splitter's asynchronous on-failure destination for manifest events that failed all retries. Nothing consumes it automatically."
      }
    ])

    this.queues = {
      // Two redeliveries after the first attempt: a chunk's steps are journaled, so a retry
      // resumes where the failed attempt stopped.
      fit: withDlq("Fit", consumerWindow, Delivery.maxDeliveries.fit),
      // One retry: a spectrum that fails twice without a time budget will fail again.
      slow: withDlq("Slow", consumerWindow, Delivery.maxDeliveries.slow),
      stage: withDlq("Stage", consumerWindow, Delivery.maxDeliveries.stage),
      catalog: withDlq("Catalog", consumerWindow, Delivery.maxDeliveries.catalog),
      splitFailures
    }

    const { fit, slow, stage, catalog } = this.queues
    const urls: Record<string, sqs.IQueue> = {
      FitQueueUrl: fit.queue,
      FitDeadLetterQueueUrl: fit.deadLetterQueue,
      SlowQueueUrl: slow.queue,
      SlowDeadLetterQueueUrl: slow.deadLetterQueue,
      StageQueueUrl: stage.queue,
      StageDeadLetterQueueUrl: stage.deadLetterQueue,
      CatalogQueueUrl: catalog.queue,
      CatalogDeadLetterQueueUrl: catalog.deadLetterQueue,
      SplitFailuresQueueUrl: splitFailures
    }
    for (const [name, queue] of Object.entries(urls)) new CfnOutput(this, name, { value: queue.queueUrl })
  }
}
