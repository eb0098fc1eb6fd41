/**
 * Small helpers over the low-level DynamoDB client: attribute values, paginated queries,
 * batch writes and reads that retry their unprocessed part.
 */
import {
  type AttributeValue,
  BatchGetItemCommand,
  BatchWriteItemCommand,
  DynamoDBClient,
  PutItemCommand,
  QueryCommand,
  type QueryCommandInput,
  ScanCommand,
  type ScanCommandInput,
  type WriteRequest
} from "@aws-sdk/client-dynamodb"
import { Errors } from "@phs/core"
import { Effect, Option } from "effect"
import { clientOptions, type AwsConfig } from "../AwsConfig.js"
import { type AwsCallError, call, callStorage, errorName } from "./aws.js"
import { UNPROCESSED_ATTEMPTS, untilProcessed } from "./retry.js"

/** A DynamoDB client for `aws`. */
export const makeClient = (aws: AwsConfig): DynamoDBClient => new DynamoDBClient(clientOptions(aws))

export type Item = Record<string, AttributeValue>

export const S = (value: string): AttributeValue => ({ S: value })
export const N = (value: number): AttributeValue => ({ N: String(value) })

export const str = (item: Item, name: string): string => item[name]?.S ?? ""
export const num = (item: Item, name: string): number => Number(item[name]?.N ?? 0)

/** An attribute value as plain data: strings, numbers, booleans, maps, null. */
export const fromAttribute = (a: AttributeValue): unknown =>
  a.S !== undefined ? a.S : a.N !== undefined ? Number(a.N) : a.BOOL !== undefined ? a.BOOL : a.M !== undefined ? fromItem(a.M) : null

/** An item as plain data (what a storage record schema decodes). */
export const fromItem = (item: Item): Record<string, unknown> => Object.fromEntries(Object.entries(item).map(([k, v]) => [k, fromAttribute(v)]))

/** Plain data as an attribute value; null and undefined have none (the attribute is left out). */
export const toAttribute = (v: unknown): AttributeValue | undefined =>
  typeof v === "string"
    ? S(v)
    : typeof v === "number"
      ? N(v)
      : typeof v === "boolean"
        ? { BOOL: v }
        : typeof v === "object" && v !== null
          ? { M: toItem(v as Record<string, unknown>) }
          : undefined

/** Plain data (an encoded storage record) as an item, null attributes left out. */
export const toItem = (data: Readonly<Record<string, unknown>>): Item =>
  Object.fromEntries(Object.entries(data).flatMap(([k, v]) => {
    const a = toAttribute(v)
    return a === undefined ? [] : [[k, a]]
  }))

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

/** Every item of the pages `page` reads, following `LastEvaluatedKey`. */
const allPages = (
  operation: string,
  page: (start: Item | undefined, abortSignal: AbortSignal) => Promise<{ Items?: Item[]; LastEvaluatedKey?: Item }>
) =>
  Effect.gen(function* () {
    const items: Item[] = []
    let start: Item | undefined
    do {
      const out = yield* callStorage(operation, (abortSignal) => page(start, abortSignal))
      items.push(...(out.Items ?? []))
      start = out.LastEvaluatedKey
    } while (start !== undefined)
    return items
  })

/** Every item of a query, following `LastEvaluatedKey`. */
export const queryAll = (client: DynamoDBClient, operation: string, input: QueryCommandInput) =>
  allPages(operation, (start, abortSignal) => client.send(new QueryCommand({ ...input, ExclusiveStartKey: start }), { abortSignal }))

/** Every item of a scan, following `LastEvaluatedKey`. */
export const scanAll = (client: DynamoDBClient, operation: string, input: ScanCommandInput) =>
  allPages(operation, (start, abortSignal) => client.send(new ScanCommand({ ...input, ExclusiveStartKey: start }), { abortSignal }))

/**
 * Puts an item unless its key exists. None when it was put; else the item that stands
 * (undefined when DynamoDB did not return it).
 */
export const putIfAbsent = (client: DynamoDBClient, operation: string, table: string, item: Item): Effect.Effect<Option.Option<Item | undefined>, AwsCallError> =>
  call(operation, (abortSignal) =>
    client.send(
      new PutItemCommand({ TableName: table, Item: item, ConditionExpression: "attribute_not_exists(pk)", ReturnValuesOnConditionCheckFailure: "ALL_OLD" }),
      { abortSignal }
    )
  ).pipe(
    Effect.as(Option.none<Item | undefined>()),
    Effect.catchIf(
      (e) => isConditionFailed(e.cause),
      (e) => Effect.succeed(Option.some(conditionItem(e.cause)))
    )
  )

const unprocessed = (operation: string, table: string) => (left: number) =>
  new Errors.StorageError({ operation, key: table, reason: `${left} item(s) still unprocessed after ${UNPROCESSED_ATTEMPTS} attempts`, retryable: true })

/** Writes requests 25 at a time, retrying the unprocessed ones with backoff. */
export const batchWrite = (client: DynamoDBClient, operation: string, table: string, requests: ReadonlyArray<WriteRequest>) =>
  Effect.forEach(
    Array.from({ length: Math.ceil(requests.length / 25) }, (_, i) => requests.slice(i * 25, i * 25 + 25)),
    (batch) =>
      untilProcessed(
        batch,
        (pending) =>
          callStorage(operation, (abortSignal) =>
            client.send(new BatchWriteItemCommand({ RequestItems: { [table]: [...pending] } }), { abortSignal })
          ).pipe(Effect.map((out) => out.UnprocessedItems?.[table] ?? [])),
        { exhausted: unprocessed(operation, table) }
      ),
    { discard: true }
  )

/** Reads items by key 100 at a time (consistently), retrying the unprocessed ones with backoff. */
export const batchGet = (client: DynamoDBClient, operation: string, table: string, keys: ReadonlyArray<Item>) =>
  Effect.gen(function* () {
    const items: Item[] = []
    for (let i = 0; i < keys.length; i += 100) {
      yield* untilProcessed(
        keys.slice(i, i + 100),
        (pending) =>
          callStorage(operation, (abortSignal) =>
            client.send(new BatchGetItemCommand({ RequestItems: { [table]: { Keys: [...pending], ConsistentRead: true } } }), { abortSignal })
          ).pipe(
            Effect.map((out) => {
              items.push(...(out.Responses?.[table] ?? []))
              return out.UnprocessedKeys?.[table]?.Keys ?? []
            })
          ),
        { exhausted: unprocessed(operation, table) }
      )
    }
    return items
  })
