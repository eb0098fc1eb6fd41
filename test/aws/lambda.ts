/**
 * What AWS does around the handlers, reduced to what the tests need, in-process: the
 * Lambda context (`getRemainingTimeInMillis`), an EventBridge "Object Created" event, the
 * SQS event source mapping (receive a batch, invoke, delete what the partial batch
 * response does not name; an invocation that throws deletes nothing), and asynchronous
 * invocation's retries.
 */
import { DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs"
import type { SplitterHandler } from "@phs/runtime-lambda"
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda"

/** A Lambda context whose deadline is `remainingMs` from now. */
export const context = (remainingMs: number): Context => {
  const deadline = Date.now() + remainingMs
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "phs-test",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:phs-test",
    memoryLimitInMB: "1769",
    awsRequestId: Math.random().toString(36).slice(2),
    logGroupName: "/aws/lambda/phs-test",
    logStreamName: "test",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined
  }
}

/** The EventBridge event S3 sends when `key` is written to `bucket`. */
export const objectCreated = (bucket: string, key: string): SplitterHandler.ObjectCreated => ({
  version: "0",
  id: Math.random().toString(36).slice(2),
  "detail-type": "Object Created",
  source: "aws.s3",
  account: "000000000000",
  time: new Date().toISOString(),
  region: "us-east-1",
  resources: [`arn:aws:s3:::${bucket}`],
  detail: {
    version: "0",
    bucket: { name: bucket },
    object: { key, size: 1, etag: "0", "version-id": "null", sequencer: "0" },
    "request-id": "test",
    requester: "000000000000",
    "source-ip-address": "127.0.0.1",
    reason: "PutObject"
  }
})

/** Asynchronous invocation: the first try and up to two retries when the handler throws. */
export const invokeAsync = async <A>(invoke: () => Promise<A>): Promise<A> => {
  let last: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await invoke()
    } catch (e) {
      last = e
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  throw last
}

export interface DrainStats {
  invocations: number
  /** Invocations that threw (nothing of their batch was deleted). */
  crashed: number
  /** Records named in `batchItemFailures`. */
  itemFailures: number
  /** Records handled and deleted. */
  deleted: number
  /** Bodies of every record delivered, in delivery order. */
  bodies: string[]
}

export interface DrainOptions {
  /** Records per invocation (the stack uses 1). */
  readonly batchSize?: number
  /** The queue's visibility timeout, seconds: when a failed record comes back. */
  readonly visibilitySeconds?: number
  /** Concurrent pollers, as concurrent function instances. */
  readonly pollers?: number
  /** Give up after this long, ms. */
  readonly timeoutMs?: number
}

/** Runs the event source mapping until the queue has nothing visible or in flight. */
export const drain = async (
  sqs: SQSClient,
  queueUrl: string,
  invoke: (event: SQSEvent) => Promise<SQSBatchResponse>,
  options: DrainOptions = {}
): Promise<DrainStats> => {
  const stats: DrainStats = { invocations: 0, crashed: 0, itemFailures: 0, deleted: 0, bodies: [] }
  const until = Date.now() + (options.timeoutMs ?? 60_000)
  const poller = async () => {
    for (;;) {
      if (Date.now() > until) throw new Error(`queue ${queueUrl} not drained in time: ${JSON.stringify(stats)}`)
      const out = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: options.batchSize ?? 1,
          VisibilityTimeout: options.visibilitySeconds ?? 2,
          WaitTimeSeconds: 0,
          MessageSystemAttributeNames: ["All"],
          MessageAttributeNames: ["All"]
        })
      )
      const messages = out.Messages ?? []
      if (messages.length === 0) {
        const attrs = await sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] })
        )
        if (Number(attrs.Attributes?.ApproximateNumberOfMessages ?? 0) + Number(attrs.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0) === 0) return
        await new Promise((r) => setTimeout(r, 100))
        continue
      }
      const records: SQSRecord[] = messages.map((m) => ({
        messageId: m.MessageId!,
        receiptHandle: m.ReceiptHandle!,
        body: m.Body ?? "",
        attributes: {
          ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? "1",
          SentTimestamp: m.Attributes?.SentTimestamp ?? "0",
          SenderId: "000000000000",
          ApproximateFirstReceiveTimestamp: m.Attributes?.ApproximateFirstReceiveTimestamp ?? "0"
        },
        messageAttributes: {},
        md5OfBody: m.MD5OfBody ?? "",
        eventSource: "aws:sqs",
        eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:test",
        awsRegion: "us-east-1"
      }))
      stats.invocations++
      stats.bodies.push(...records.map((r) => r.body))
      let failed: Set<string>
      try {
        const response = await invoke({ Records: records })
        failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier))
      } catch {
        stats.crashed++
        continue
      }
      stats.itemFailures += failed.size
      for (const r of records) {
        if (failed.has(r.messageId)) continue
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: r.receiptHandle }))
        stats.deleted++
      }
    }
  }
  await Promise.all(Array.from({ length: options.pollers ?? 1 }, poller))
  return stats
}
