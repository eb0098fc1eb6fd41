/**
 * The work queues on SQS: a standard queue per `QueueName` and its dead-letter queue. On AWS
 * the queue's redrive policy (`Queues.redrivePolicy`: 3 deliveries for fit, 2 for slow)
 * moves a message that keeps coming back to the dead letters; `deadLetter` moves one now,
 * with the reason as a message attribute.
 *
 * A receipt is self-contained: it carries the delivery's SQS receipt handle, message id,
 * receive count and body (`encodeReceipt`), because dead-lettering needs the body and SQS
 * cannot look a message up by its handle. A Lambda handler builds one from its event record.
 *
 * @since 0.1.0
 */
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message as SqsMessage,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient
} from "@aws-sdk/client-sqs"
import { Errors, RunTable, WorkQueue } from "@phs/core"
import { Effect, Layer, Option } from "effect"
import { clientOptions, type AwsConfig } from "./AwsConfig.js"
import { call, callStorage, errorName, toStorageError } from "./internal/aws.js"
import { untilProcessed } from "./internal/retry.js"

/**
 * A queue and its dead-letter queue.
 *
 * @since 0.1.0
 * @category models
 */
export interface QueueUrls {
  readonly url: string
  readonly dlqUrl: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly aws: AwsConfig
  /** The `stage` queue (user fan-out stages) is optional: a deployment without it runs none. */
  readonly queues: Readonly<Record<"fit" | "slow", QueueUrls>> & { readonly stage?: QueueUrls }
  /** Long-poll seconds of `receive` (default 0: answer at once). */
  readonly receiveWaitSeconds?: number
  /**
   * Long-poll seconds while scanning a dead-letter queue (default 1: a long poll asks every
   * SQS server, so a scan that comes back empty has seen everything; 0 for emulators).
   */
  readonly scanWaitSeconds?: number
}

/**
 * Message attributes a dead letter carries.
 *
 * @since 0.1.0
 * @category constants
 */
export const ATTRIBUTES = {
  reason: "phs-reason",
  messageId: "phs-message-id",
  receiveCount: "phs-receive-count"
} as const

/** How long a dead-letter scan hides what it has seen (it shows it again when done). */
const SCAN_HIDE_SECONDS = 30

/**
 * One delivery of a message: what a receipt carries.
 *
 * @since 0.1.0
 * @category models
 */
export interface Delivery {
  readonly handle: string
  readonly id: string
  readonly receiveCount: number
  readonly body: string
}

const RECEIPT_PREFIX = "sqs1."

/**
 * The receipt of a delivery.
 *
 * @since 0.1.0
 * @category receipts
 */
export const encodeReceipt = (d: Delivery): string =>
  RECEIPT_PREFIX + Buffer.from(JSON.stringify([d.handle, d.id, d.receiveCount, d.body]), "utf8").toString("base64url")

/**
 * The delivery a receipt carries; none for a string that is not one of ours.
 *
 * @since 0.1.0
 * @category receipts
 */
export const decodeReceipt = (receipt: string): Option.Option<Delivery> => {
  if (!receipt.startsWith(RECEIPT_PREFIX)) return Option.none()
  try {
    const v: unknown = JSON.parse(Buffer.from(receipt.slice(RECEIPT_PREFIX.length), "base64url").toString("utf8"))
    if (Array.isArray(v) && v.length === 4 && typeof v[0] === "string" && typeof v[1] === "string" && typeof v[2] === "number" && typeof v[3] === "string")
      return Option.some({ handle: v[0], id: v[1], receiveCount: v[2], body: v[3] })
  } catch {
    // not ours
  }
  return Option.none()
}

/**
 * Milliseconds as the whole seconds SQS takes (rounded up, within 0–12 h).
 *
 * @since 0.1.0
 * @category utils
 */
export const toSeconds = (ms: number): number => Math.min(43_200, Math.max(0, Math.ceil(ms / 1000)))

/** A receipt handle that no longer names a delivery: nothing to do, as with the memory queue. */
const isStaleHandle = (cause: unknown): boolean => {
  const name = errorName(cause)
  if (name === "ReceiptHandleIsInvalid" || name === "MessageNotInflight") return true
  return name === "InvalidParameterValue" && cause instanceof Error && /receipt handle/i.test(cause.message)
}

const numberAttr = (m: SqsMessage, name: string): number | undefined => {
  const v = m.Attributes?.[name as keyof typeof m.Attributes]
  return v === undefined ? undefined : Number(v)
}

/** Calls of a send batch before the messages SQS still refuses are an error. */
const SEND_ATTEMPTS = 3

/**
 * A work queue over an existing client.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (client: SQSClient, options: Omit<Options, "aws">): WorkQueue.WorkQueue => {
  const stage = options.queues.stage
  if (stage === undefined) return withoutStageQueue(make(client, { ...options, queues: { ...options.queues, stage: { url: "", dlqUrl: "" } } }))
  const urls: Readonly<Record<WorkQueue.QueueName, QueueUrls>> = { ...options.queues, stage }
  const receiveWait = options.receiveWaitSeconds ?? 0
  const scanWait = options.scanWaitSeconds ?? 1

  const sendTo = (url: string, bodies: ReadonlyArray<string>) =>
    Effect.forEach(
      chunksOf(bodies, 10),
      (batch) => {
        let refused = ""
        return untilProcessed(
          batch.map((body, j) => ({ Id: String(j), MessageBody: body })),
          (entries) =>
            callStorage("sqs send", (abortSignal) => client.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: [...entries] }), { abortSignal })).pipe(
              Effect.flatMap((out) => {
                const failed = out.Failed ?? []
                if (failed.length > 0) refused = `${failed[0].Code ?? "?"} ${failed[0].Message ?? ""}`.trim()
                if (failed.some((f) => f.SenderFault === true))
                  return Effect.fail(
                    new Errors.StorageError({ operation: "sqs send", key: url, reason: `${failed.length} message(s) refused: ${refused}`, retryable: false })
                  )
                const retry = new Set(failed.map((f) => f.Id))
                return Effect.succeed(entries.filter((e) => retry.has(e.Id)))
              })
            ),
          {
            attempts: SEND_ATTEMPTS,
            exhausted: (left) => new Errors.StorageError({ operation: "sqs send", key: url, reason: `${left} message(s) refused: ${refused}`, retryable: true })
          }
        )
      },
      { discard: true }
    )

  const ignoringStale = <A>(operation: string, f: (signal: AbortSignal) => Promise<A>) =>
    call(operation, f).pipe(
      Effect.asVoid,
      Effect.catchIf((e) => isStaleHandle(e.cause), () => Effect.void),
      Effect.mapError(toStorageError)
    )

  const deleteHandle = (url: string, handle: string) =>
    ignoringStale("sqs delete", (abortSignal) => client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: handle }), { abortSignal }))

  /** Every message of a dead-letter queue, hidden until `show` is called on them. */
  const scan = (url: string) =>
    Effect.gen(function* () {
      const seen = new Map<string, SqsMessage>()
      for (;;) {
        const out = yield* callStorage("sqs scan dead letters", (abortSignal) =>
          client.send(
            new ReceiveMessageCommand({
              QueueUrl: url,
              MaxNumberOfMessages: 10,
              VisibilityTimeout: SCAN_HIDE_SECONDS,
              WaitTimeSeconds: scanWait,
              MessageAttributeNames: ["All"],
              MessageSystemAttributeNames: ["SentTimestamp", "ApproximateReceiveCount"]
            }),
            { abortSignal }
          )
        )
        const got = out.Messages ?? []
        if (got.length === 0) break
        for (const m of got) if (m.MessageId !== undefined && !seen.has(m.MessageId)) seen.set(m.MessageId, m)
      }
      return [...seen.values()]
    })

  const show = (url: string, messages: ReadonlyArray<SqsMessage>) =>
    Effect.forEach(
      chunksOf(messages.filter((m) => m.ReceiptHandle !== undefined), 10),
      (batch) =>
        callStorage("sqs show dead letters", (abortSignal) =>
          client.send(
            new ChangeMessageVisibilityBatchCommand({
              QueueUrl: url,
              Entries: batch.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 }))
            }),
            { abortSignal }
          )
        ),
      { discard: true }
    )

  const removeAll = (url: string, messages: ReadonlyArray<SqsMessage>) =>
    Effect.forEach(
      chunksOf(messages, 10),
      (batch) =>
        callStorage("sqs delete", (abortSignal) =>
          client.send(
            new DeleteMessageBatchCommand({ QueueUrl: url, Entries: batch.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }),
            { abortSignal }
          )
        ),
      { discard: true }
    )

  const toDeadLetter = (queue: WorkQueue.QueueName) => (m: SqsMessage): WorkQueue.DeadLetter => {
    const attr = (name: string) => m.MessageAttributes?.[name]?.StringValue
    const count = attr(ATTRIBUTES.receiveCount)
    return {
      id: attr(ATTRIBUTES.messageId) ?? m.MessageId ?? "",
      body: m.Body ?? "",
      receiveCount: count === undefined ? WorkQueue.maxReceives[queue] : Number(count),
      reason: attr(ATTRIBUTES.reason) ?? `not acknowledged after ${WorkQueue.maxReceives[queue]} deliveries`
    }
  }

  const sentAt = (m: SqsMessage) => numberAttr(m, "SentTimestamp") ?? 0

  const depthOf = (url: string) =>
    callStorage("sqs depth", (abortSignal) =>
      client.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"]
        }),
        { abortSignal }
      )
    ).pipe(
      Effect.map((out) => {
        const n = (k: "ApproximateNumberOfMessages" | "ApproximateNumberOfMessagesNotVisible" | "ApproximateNumberOfMessagesDelayed") =>
          Number(out.Attributes?.[k] ?? 0)
        return {
          visible: n("ApproximateNumberOfMessages"),
          hidden: n("ApproximateNumberOfMessagesNotVisible") + n("ApproximateNumberOfMessagesDelayed")
        }
      })
    )

  return {
    send: (queue, bodies) => sendTo(urls[queue].url, bodies),
    receive: (queue, { max, visibilityMs }) =>
      Effect.gen(function* () {
        const out: WorkQueue.Message[] = []
        while (out.length < max) {
          const want = Math.min(10, max - out.length)
          const page = yield* callStorage("sqs receive", (abortSignal) =>
            client.send(
              new ReceiveMessageCommand({
                QueueUrl: urls[queue].url,
                MaxNumberOfMessages: want,
                VisibilityTimeout: toSeconds(visibilityMs),
                WaitTimeSeconds: receiveWait,
                MessageSystemAttributeNames: ["ApproximateReceiveCount"]
              }),
              { abortSignal }
            )
          )
          const got = page.Messages ?? []
          for (const m of got) {
            const delivery: Delivery = {
              handle: m.ReceiptHandle ?? "",
              id: m.MessageId ?? "",
              receiveCount: numberAttr(m, "ApproximateReceiveCount") ?? 1,
              body: m.Body ?? ""
            }
            out.push({ id: delivery.id, receipt: encodeReceipt(delivery), body: delivery.body, receiveCount: delivery.receiveCount })
          }
          if (got.length < want) break
        }
        return out
      }),
    ack: (queue, receipt) =>
      Option.match(decodeReceipt(receipt), { onNone: () => Effect.void, onSome: (d) => deleteHandle(urls[queue].url, d.handle) }),
    release: (queue, receipt, delayMs) =>
      Option.match(decodeReceipt(receipt), {
        onNone: () => Effect.void,
        onSome: (d) =>
          ignoringStale("sqs release", (abortSignal) =>
            client.send(
              new ChangeMessageVisibilityCommand({ QueueUrl: urls[queue].url, ReceiptHandle: d.handle, VisibilityTimeout: toSeconds(delayMs) }),
              { abortSignal }
            )
          )
      }),
    deadLetter: (queue, receipt, reason) =>
      Option.match(decodeReceipt(receipt), {
        onNone: () => Effect.void,
        onSome: (d) =>
          callStorage("sqs dead-letter", (abortSignal) =>
            client.send(
              new SendMessageCommand({
                QueueUrl: urls[queue].dlqUrl,
                MessageBody: d.body,
                MessageAttributes: {
                  [ATTRIBUTES.reason]: { DataType: "String", StringValue: RunTable.clipReason(reason.length > 0 ? reason : "dead-lettered") },
                  [ATTRIBUTES.messageId]: { DataType: "String", StringValue: d.id },
                  [ATTRIBUTES.receiveCount]: { DataType: "Number", StringValue: String(d.receiveCount) }
                }
              }),
              { abortSignal }
            )
          ).pipe(Effect.zipRight(deleteHandle(urls[queue].url, d.handle)))
      }),
    depth: (queue) =>
      Effect.map(Effect.all([depthOf(urls[queue].url), depthOf(urls[queue].dlqUrl)]), ([main, dead]) => ({
        visible: main.visible,
        inFlight: main.hidden,
        deadLetters: dead.visible + dead.hidden
      })),
    deadLetters: (queue) =>
      Effect.acquireUseRelease(
        scan(urls[queue].dlqUrl),
        (messages) =>
          Effect.succeed(
            [...messages].sort((a, b) => sentAt(a) - sentAt(b) || (a.MessageId ?? "").localeCompare(b.MessageId ?? "")).map(toDeadLetter(queue))
          ),
        (messages) => Effect.ignore(show(urls[queue].dlqUrl, messages))
      ),
    redrive: (queue, filter) =>
      Effect.gen(function* () {
        const messages = yield* scan(urls[queue].dlqUrl)
        const moving = messages.filter((m) => filter(m.Body ?? ""))
        const staying = messages.filter((m) => !filter(m.Body ?? ""))
        const move = Effect.forEach(
          chunksOf(moving, 10),
          (batch) => Effect.zipRight(sendTo(urls[queue].url, batch.map((m) => m.Body ?? "")), removeAll(urls[queue].dlqUrl, batch)),
          { discard: true }
        )
        yield* move.pipe(Effect.ensuring(Effect.ignore(show(urls[queue].dlqUrl, staying))))
        return moving.length
      })
  }
}

const chunksOf = <A>(items: ReadonlyArray<A>, n: number): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += n) out.push(items.slice(i, i + n))
  return out
}

/**
 * An SQS client for `aws`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeClient = (aws: AwsConfig): SQSClient => new SQSClient(clientOptions(aws))

/** Queues with no `stage` queue: nothing can be sent to it, and it is always empty. */
const withoutStageQueue = (q: WorkQueue.WorkQueue): WorkQueue.WorkQueue => {
  const refuse = (operation: string) =>
    Effect.fail(new Errors.StorageError({ operation, reason: "this deployment has no stage queue (PHS_STAGE_QUEUE_URL): it runs no fan-out stages", retryable: false }))
  return {
    send: (queue, bodies) => (queue === "stage" ? refuse("sqs send") : q.send(queue, bodies)),
    receive: (queue, o) => (queue === "stage" ? Effect.succeed([]) : q.receive(queue, o)),
    ack: (queue, r) => (queue === "stage" ? refuse("sqs ack") : q.ack(queue, r)),
    release: (queue, r, d) => (queue === "stage" ? refuse("sqs release") : q.release(queue, r, d)),
    deadLetter: (queue, r, reason) => (queue === "stage" ? refuse("sqs dead-letter") : q.deadLetter(queue, r, reason)),
    depth: (queue) => (queue === "stage" ? Effect.succeed({ visible: 0, inFlight: 0, deadLetters: 0 }) : q.depth(queue)),
    deadLetters: (queue) => (queue === "stage" ? Effect.succeed([]) : q.deadLetters(queue)),
    redrive: (queue, f) => (queue === "stage" ? Effect.succeed(0) : q.redrive(queue, f))
  }
}

/**
 * The work queues; the client is created with the layer and destroyed with it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<WorkQueue.WorkQueue> =>
  Layer.scoped(
    WorkQueue.WorkQueue,
    Effect.map(
      Effect.acquireRelease(Effect.sync(() => makeClient(options.aws)), (client) => Effect.sync(() => client.destroy())),
      (client) => make(client, options)
    )
  )
