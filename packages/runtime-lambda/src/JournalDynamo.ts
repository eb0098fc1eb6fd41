/**
 * The step journal on DynamoDB (`Tables.journalTable`): partition = run id, sort key =
 * `{stage}#{scope}#{step}#{inputHash}` (`#` and `%` inside a part are %-escaped). `record`
 * is a put conditional on `attribute_not_exists(pk)`; when it loses, the standing record is
 * returned, so every racer gets the first record. Reads are consistent.
 *
 * DynamoDB items are at most 400 KB and some outputs are larger (split's lists every chunk
 * task): an output over `inlineLimitBytes` (default 350 000) is written to the blob store at
 * `journal/{run}/{sha256}.json` first and the item keeps the key.
 *
 * @since 0.1.0
 */
import { type DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb"
import { BlobStore, Errors, Journal } from "@phs/core"
import { Effect, Layer, Option } from "effect"
import { createHash } from "node:crypto"
import type { AwsConfig } from "./AwsConfig.js"
import { callStorage, toStorageError } from "./internal/aws.js"
import { type Item, makeClient, N, num, putIfAbsent, queryAll, S, str } from "./internal/dynamo.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly aws: AwsConfig
  readonly tableName: string
  /** Outputs larger than this many UTF-8 bytes go to the blob store (default 350 000). */
  readonly inlineLimitBytes?: number
}

/**
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_INLINE_LIMIT_BYTES = 350_000

const escapePart = (part: string): string => part.replace(/%/g, "%25").replace(/#/g, "%23")

/**
 * The sort key of a step record.
 *
 * @since 0.1.0
 * @category keys
 */
export const sortKey = (c: Omit<Journal.StepCall, "seq" | "runId">): string =>
  [c.stage, c.scope, c.step, c.inputHash].map(escapePart).join("#")

/**
 * Where an output too large for an item is kept.
 *
 * @since 0.1.0
 * @category keys
 */
export const outputBlobKey = (runId: string, output: string): string =>
  `journal/${runId}/${createHash("sha256").update(output).digest("hex")}.json`

const keyOf = (c: Omit<Journal.StepCall, "seq">): Item => ({ pk: S(c.runId), sk: S(sortKey(c)) })

/**
 * A journal over an existing client and a blob store.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  client: DynamoDBClient,
  store: BlobStore.BlobStore,
  options: Omit<Options, "aws">
): Journal.Journal => {
  const table = options.tableName
  const limit = options.inlineLimitBytes ?? DEFAULT_INLINE_LIMIT_BYTES

  const decode = (item: Item): Effect.Effect<Journal.JournalEntry, Errors.StorageError> => {
    const entry = {
      runId: str(item, "pk"),
      stage: str(item, "stage"),
      scope: str(item, "scope"),
      step: str(item, "step"),
      inputHash: str(item, "input_hash"),
      seq: num(item, "seq"),
      recordedAt: num(item, "recorded_at")
    }
    const ref = item.output_ref?.S
    if (ref === undefined) return Effect.succeed({ ...entry, output: str(item, "output") })
    return store.get(ref).pipe(
      Effect.map((bytes) => ({ ...entry, output: new TextDecoder().decode(bytes) })),
      Effect.catchTag("BlobNotFound", (e) =>
        Effect.fail(new Errors.StorageError({ operation: "journal output", key: e.key, reason: "the journal's output blob is missing", retryable: false }))
      )
    )
  }

  const toItem = (entry: Journal.JournalEntry, ref: string | null): Item => ({
    ...keyOf(entry),
    stage: S(entry.stage),
    scope: S(entry.scope),
    step: S(entry.step),
    input_hash: S(entry.inputHash),
    seq: N(entry.seq),
    recorded_at: N(entry.recordedAt),
    ...(ref === null ? { output: S(entry.output) } : { output_ref: S(ref) })
  })

  const getItem = (call_: Omit<Journal.StepCall, "seq">) =>
    callStorage("dynamodb journal lookup", (abortSignal) =>
      client.send(new GetItemCommand({ TableName: table, Key: keyOf(call_), ConsistentRead: true }), { abortSignal })
    ).pipe(Effect.map((out) => Option.fromNullable(out.Item)))

  return {
    lookup: (c) =>
      Effect.flatMap(getItem(c), Option.match({ onNone: () => Effect.succeed(Option.none()), onSome: (item) => Effect.map(decode(item), Option.some) })),
    record: (entry) =>
      Effect.gen(function* () {
        let ref: string | null = null
        if (Buffer.byteLength(entry.output, "utf8") > limit) {
          ref = outputBlobKey(entry.runId, entry.output)
          yield* store.put(ref, new TextEncoder().encode(entry.output))
        }
        const standing = yield* putIfAbsent(client, "dynamodb journal record", table, toItem(entry, ref)).pipe(
          Effect.mapError(toStorageError),
          Effect.flatMap(
            Option.match({
              onNone: () => Effect.succeed(Option.none<Item>()),
              onSome: (item) => (item === undefined ? getItem(entry) : Effect.succeed(Option.some(item)))
            })
          )
        )
        return Option.isNone(standing) ? entry : yield* decode(standing.value)
      }),
    entries: (runId) =>
      queryAll(client, "dynamodb journal entries", {
        TableName: table,
        ConsistentRead: true,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": S(runId) }
      }).pipe(
        Effect.flatMap((items) => Effect.forEach(items, decode, { concurrency: 8 })),
        Effect.map((entries) => entries.sort(Journal.compareEntries))
      )
  }
}

/**
 * The journal in `tableName`, with large outputs in the `BlobStore`; the client is created
 * with the layer and destroyed with it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Journal.Journal, never, BlobStore.BlobStore> =>
  Layer.scoped(
    Journal.Journal,
    Effect.gen(function* () {
      const store = yield* BlobStore.BlobStore
      const client = yield* Effect.acquireRelease(Effect.sync(() => makeClient(options.aws)), (c) => Effect.sync(() => c.destroy()))
      return make(client, store, options)
    })
  )
