/**
 * Small helpers over the low-level DynamoDB client: attribute values, paginated queries,
 * batch writes and reads that retry their unprocessed part.
 */
import {
  type AttributeValue,
  BatchGetItemCommand,
  BatchWriteItemCommand,
  DynamoDBClient,
  QueryCommand,
  type QueryCommandInput,
  ScanCommand,
  type ScanCommandInput,
  type WriteRequest
} from "@aws-sdk/client-dynamodb"
import { Errors } from "@phs/core"
import { Effect } from "effect"
import { clientOptions, type AwsConfig } from "../AwsConfig.js"
import { callStorage, errorName, pause } from "./aws.js"

/** A DynamoDB client for `aws`. */
export const makeClient = (aws: AwsConfig): DynamoDBClient => new DynamoDBClient(clientOptions(aws))

export type Item = Record<string, AttributeValue>

export const S = (value: string): AttributeValue => ({ S: value })
export const N = (value: number): AttributeValue => ({ N: String(value) })

export const str = (item: Item, name: string): string => item[name]?.S ?? ""
export const strOrNull = (item: Item, name: string): string | null => item[name]?.S ?? null
export const num = (item: Item, name: string): number => Number(item[name]?.N ?? 0)
export const numOrNull = (item: Item, name: string): number | null => (item[name]?.N === undefined ? null : Number(item[name].N))

/** A DynamoDB error that a layer gives a meaning to. */
export const isConditionFailed = (cause: unknown): boolean => errorName(cause) === "ConditionalCheckFailedException"

/** The item a failed condition reported (`ReturnValuesOnConditionCheckFailure: ALL_OLD`). */
export const conditionItem = (cause: unknown): Item | undefined =>
  typeof cause === "object" && cause !== null && "Item" in cause ? ((cause as { Item?: Item }).Item ?? undefined) : undefined

/** The cancellation codes of a `TransactionCanceledException`, one per action (`None` when fine). */
export const cancellationCodes = (cause: unknown): ReadonlyArray<string> | undefined => {
  if (errorName(cause) !== "TransactionCanceledException") return undefined
  const reasons = (cause as { CancellationReasons?: ReadonlyArray<{ Code?: string }> }).CancellationReasons ?? []
  return reasons.map((r) => r.Code ?? "None")
}

const TRANSIENT_CANCEL = new Set(["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"])

/** A cancelled transaction whose reasons are all transient (a conflict, throttling): try again. */
export const isTransientCancel = (codes: ReadonlyArray<string>): boolean =>
  codes.some((c) => TRANSIENT_CANCEL.has(c)) && codes.every((c) => c === "None" || TRANSIENT_CANCEL.has(c))

/** Every item of a query, following `LastEvaluatedKey`. */
export const queryAll = (client: DynamoDBClient, operation: string, input: QueryCommandInput) =>
  Effect.gen(function* () {
    const items: Item[] = []
    let start: Item | undefined
    do {
      const page = yield* callStorage(operation, (abortSignal) => client.send(new QueryCommand({ ...input, ExclusiveStartKey: start }), { abortSignal }))
      items.push(...(page.Items ?? []))
      start = page.LastEvaluatedKey
    } while (start !== undefined)
    return items
  })

/** Every item of a scan, following `LastEvaluatedKey`. */
export const scanAll = (client: DynamoDBClient, operation: string, input: ScanCommandInput) =>
  Effect.gen(function* () {
    const items: Item[] = []
    let start: Item | undefined
    do {
      const page = yield* callStorage(operation, (abortSignal) => client.send(new ScanCommand({ ...input, ExclusiveStartKey: start }), { abortSignal }))
      items.push(...(page.Items ?? []))
      start = page.LastEvaluatedKey
    } while (start !== undefined)
    return items
  })

const UNPROCESSED_ATTEMPTS = 8

const unprocessed = (operation: string, table: string, left: number) =>
  new Errors.StorageError({ operation, key: table, reason: `${left} item(s) still unprocessed after ${UNPROCESSED_ATTEMPTS} attempts`, retryable: true })

/** Writes requests 25 at a time, retrying the unprocessed ones with backoff. */
export const batchWrite = (client: DynamoDBClient, operation: string, table: string, requests: ReadonlyArray<WriteRequest>) =>
  Effect.gen(function* () {
    for (let i = 0; i < requests.length; i += 25) {
      let pending: WriteRequest[] = requests.slice(i, i + 25)
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= UNPROCESSED_ATTEMPTS) return yield* Effect.fail(unprocessed(operation, table, pending.length))
        if (attempt > 0) yield* pause(Math.min(1000, 25 * 2 ** attempt))
        const out = yield* callStorage(operation, (abortSignal) =>
          client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }), { abortSignal })
        )
        pending = out.UnprocessedItems?.[table] ?? []
      }
    }
  })

/** Reads items by key 100 at a time (consistently), retrying the unprocessed ones with backoff. */
export const batchGet = (client: DynamoDBClient, operation: string, table: string, keys: ReadonlyArray<Item>) =>
  Effect.gen(function* () {
    const items: Item[] = []
    for (let i = 0; i < keys.length; i += 100) {
      let pending: Item[] = keys.slice(i, i + 100)
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= UNPROCESSED_ATTEMPTS) return yield* Effect.fail(unprocessed(operation, table, pending.length))
        if (attempt > 0) yield* pause(Math.min(1000, 25 * 2 ** attempt))
        const out = yield* callStorage(operation, (abortSignal) =>
          client.send(new BatchGetItemCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: true } } }), { abortSignal })
        )
        items.push(...(out.Responses?.[table] ?? []))
        pending = out.UnprocessedKeys?.[table]?.Keys ?? []
      }
    }
    return items
  })
