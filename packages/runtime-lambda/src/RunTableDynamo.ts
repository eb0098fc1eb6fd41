/**
 * The run table on DynamoDB (`Tables.runsTable`): one partition per run, the `RUN` item and
 * a `CHUNK#{start:07d}` item per chunk. Every write that must happen once is conditional:
 * a claim is a conditional update; completing, failing and settling a chunk are each one
 * `TransactWriteItems` (the chunk's conditional update + the run's counters), so a
 * redelivered message whose condition no longer holds changes nothing and reports
 * `applied: false`. A user fan-out stage's finished chunks are `STAGE#{stage}#CHUNK#…` items,
 * each put once. Time comes from Effect's `Clock`.
 *
 * @since 0.1.0
 */
import {
  type DynamoDBClient,
  GetItemCommand,
  TransactWriteItemsCommand,
  type TransactWriteItem,
  UpdateItemCommand
} from "@aws-sdk/client-dynamodb"
import { Errors, RunTable } from "@phs/core"
import { Clock, Effect, Layer, Option, Schema } from "effect"
import type { AwsConfig } from "./AwsConfig.js"
import { call, callStorage, toStorageError } from "./internal/aws.js"
import {
  batchGet,
  batchWrite,
  makeClient,
  cancellationCodes,
  conditionItem,
  fromItem,
  putIfAbsent as putIfAbsentItem,
  isConditionFailed,
  isTransientCancel,
  type Item,
  N,
  num,
  queryAll,
  S,
  scanAll,
  str,
  toItem
} from "./internal/dynamo.js"
import { whileRaced } from "./internal/retry.js"
import { BY_SURVEY } from "./Tables.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly aws: AwsConfig
  readonly tableName: string
}

/**
 * The sort key of a chunk item.
 *
 * @since 0.1.0
 * @category keys
 */
export const chunkSortKey = (start: number): string => `CHUNK#${String(start).padStart(7, "0")}`

/**
 * The sort key of the run item.
 *
 * @since 0.1.0
 * @category keys
 */
export const RUN_SORT_KEY = "RUN"

/** Set on a RUN item until its chunks are all written: a create that finds it finishes the job. */
const CHUNKS_PENDING = "chunks_pending"

/** The sort-key prefix of the chunks a user fan-out stage finished (`STAGE#{stage}#CHUNK#…`). */
const stageSortPrefix = (stage: string): string => `STAGE#${stage}#`

const runKey = (runId: string): Item => ({ pk: S(runId), sk: S(RUN_SORT_KEY) })
const chunkKey = (runId: string, start: number): Item => ({ pk: S(runId), sk: S(chunkSortKey(start)) })

const encodeRun = Schema.encodeSync(RunTable.StoredRun)
const encodeChunk = Schema.encodeSync(RunTable.StoredChunk)
const decodeStoredRun = Schema.decodeUnknownSync(RunTable.StoredRun)
const decodeStoredChunk = Schema.decodeUnknownSync(RunTable.StoredChunk)

/** The run id is the partition key, not an attribute of its own. */
const withoutRunId = ({ run_id: _, ...rest }: { readonly run_id: string }) => rest

const runItem = (r: RunTable.RunRecord): Item => ({ ...runKey(r.runId), ...toItem(withoutRunId(encodeRun(r))) })

const decodeRun = (item: Item): RunTable.RunRecord => decodeStoredRun({ ...fromItem(item), run_id: str(item, "pk") })

const chunkItem = (c: RunTable.ChunkRecord): Item => ({ ...chunkKey(c.runId, c.start), ...toItem(withoutRunId(encodeChunk(c))) })

const decodeChunk = (item: Item): RunTable.ChunkRecord => decodeStoredChunk({ ...fromItem(item), run_id: str(item, "pk") })

/** Every attribute an expression names goes through a placeholder: no reserved-word surprises. */
const names = {
  "#status": "status",
  "#lease": "lease_until",
  "#attempts": "attempts",
  "#started": "started_at",
  "#finished": "finished_at",
  "#output": "output_key",
  "#deferred": "deferred",
  "#error": "error"
} as const

const pick = (...keys: ReadonlyArray<keyof typeof names>) => Object.fromEntries(keys.map((k) => [k, names[k]]))

const UNSETTLED = "#status IN (:pending, :inprog)"

/** Chunk updates per reopen transaction (DynamoDB allows 100 actions; one is the run's). */
const TRANSACTION_CHUNKS = 99

/**
 * A run table over an existing client.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (client: DynamoDBClient, tableName: string): RunTable.RunTable => {
  const getItem = (operation: string, key: Item) =>
    callStorage(operation, (abortSignal) =>
      client.send(new GetItemCommand({ TableName: tableName, Key: key, ConsistentRead: true }), { abortSignal })
    ).pipe(Effect.map((out) => Option.fromNullable(out.Item)))

  const getRun = (runId: string) => Effect.map(getItem("dynamodb get run", runKey(runId)), Option.map(decodeRun))

  const mustGetRun = (runId: string) =>
    Effect.flatMap(getRun(runId), Option.match({ onNone: () => Effect.fail(new Errors.RunNotFound({ runId })), onSome: Effect.succeed }))

  /** The RUN item a failed create found (when the condition failure did not carry it). */
  const storedRunItem = (runId: string) =>
    Effect.flatMap(getItem("dynamodb create run", runKey(runId)), (item) =>
      Option.isSome(item)
        ? Effect.succeed(item.value)
        : Effect.fail(new Errors.StorageError({ operation: "dynamodb create run", key: runId, reason: "the run vanished while being created", retryable: true }))
    )

  const listChunks = (runId: string) =>
    queryAll(client, "dynamodb list chunks", {
      TableName: tableName,
      ConsistentRead: true,
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :chunk)",
      ExpressionAttributeValues: { ":pk": S(runId), ":chunk": S("CHUNK#") }
    }).pipe(Effect.map((items) => items.map(decodeChunk).sort((a, b) => a.start - b.start)))

  /** The `STAGE#{stage}#CHUNK#…` items of a run: one stage's, or (null) every stage's. */
  const listStageChunks = (runId: string, stage: string | null) =>
    queryAll(client, "dynamodb list stage chunks", {
      TableName: tableName,
      ConsistentRead: true,
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
      ExpressionAttributeValues: { ":pk": S(runId), ":prefix": S(stage === null ? "STAGE#" : stageSortPrefix(stage)) },
      ProjectionExpression: "pk, sk"
    })

  const putIfAbsent = (operation: string, item: Item) =>
    putIfAbsentItem(client, operation, tableName, item).pipe(Effect.map(Option.map((standing) => standing ?? {})), Effect.mapError(toStorageError))

  const writeChunks = (runId: string, chunks: ReadonlyArray<RunTable.ChunkRecord>) =>
    Effect.zipRight(
      Effect.forEach(chunks, (c) => putIfAbsent("dynamodb create chunk", chunkItem(c)), { concurrency: 16, discard: true }),
      call("dynamodb create run", (abortSignal) =>
        client.send(
          new UpdateItemCommand({
            TableName: tableName,
            Key: runKey(runId),
            UpdateExpression: `REMOVE ${CHUNKS_PENDING}`,
            ConditionExpression: "attribute_exists(pk)"
          }),
          { abortSignal }
        )
      ).pipe(
        Effect.asVoid,
        Effect.catchIf((e) => isConditionFailed(e.cause), () => Effect.void),
        Effect.mapError(toStorageError)
      )
    )

  /**
   * Runs a chunk transaction: `chunk` (conditional) and the run's counters. A failed chunk
   * condition means "already done": applied false, with the run as it stands.
   */
  const transact = (operation: string, runId: string, chunk: TransactWriteItem, runUpdate: (now: number) => TransactWriteItem) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const applied = yield* call(operation, (abortSignal) =>
        client.send(new TransactWriteItemsCommand({ TransactItems: [chunk, runUpdate(now)] }), { abortSignal })
      ).pipe(
        Effect.as(true),
        Effect.catchIf(
          (e) => cancellationCodes(e.cause) !== undefined,
          (e): Effect.Effect<boolean, Errors.StorageError | Errors.RunNotFound> => {
            const codes = cancellationCodes(e.cause)!
            if (codes[1] === "ConditionalCheckFailed") return Effect.fail(new Errors.RunNotFound({ runId }))
            if (codes[0] === "ConditionalCheckFailed") return Effect.succeed(false)
            return Effect.fail(
              new Errors.StorageError({ operation, key: runId, reason: `transaction cancelled: ${codes.join(", ")}`, retryable: isTransientCancel(codes) })
            )
          }
        ),
        Effect.mapError((e) => (e instanceof Errors.StorageError || e instanceof Errors.RunNotFound ? e : toStorageError(e)))
      )
      return { applied, run: yield* mustGetRun(runId) }
    })

  const runCounters = (runId: string, add: Record<string, number>) => (now: number): TransactWriteItem => {
    const entries = Object.entries(add)
    return {
      Update: {
        TableName: tableName,
        Key: runKey(runId),
        UpdateExpression: `SET #updated = :now ADD ${entries.map((_, i) => `#c${i} :a${i}`).join(", ")}`,
        ConditionExpression: "attribute_exists(pk)",
        ExpressionAttributeNames: { "#updated": "updated_at", ...Object.fromEntries(entries.map(([k], i) => [`#c${i}`, k])) },
        ExpressionAttributeValues: { ":now": N(now), ...Object.fromEntries(entries.map(([, v], i) => [`:a${i}`, N(v)])) }
      }
    }
  }

  return {
    createRun: (run, chunks) =>
      Effect.gen(function* () {
        const existing = yield* putIfAbsent("dynamodb create run", { ...runItem(run), [CHUNKS_PENDING]: { BOOL: true } })
        if (Option.isNone(existing)) {
          yield* writeChunks(run.runId, chunks)
          return run
        }
        const stored = existing.value.pk === undefined ? yield* storedRunItem(run.runId) : existing.value
        // A create that crashed between the run and its chunks: finish it (puts never overwrite).
        if (stored[CHUNKS_PENDING] !== undefined) yield* writeChunks(run.runId, chunks)
        return decodeRun(stored)
      }),
    getRun,
    listRuns: (options) =>
      Effect.gen(function* () {
        const keys =
          options?.survey === undefined
            ? yield* scanAll(client, "dynamodb list runs", { TableName: tableName, IndexName: BY_SURVEY })
            : yield* queryAll(client, "dynamodb list runs", {
                TableName: tableName,
                IndexName: BY_SURVEY,
                KeyConditionExpression: "survey = :survey",
                ExpressionAttributeValues: { ":survey": S(options.survey) }
              })
        const items = yield* batchGet(client, "dynamodb list runs", tableName, keys.map((k) => ({ pk: k.pk, sk: k.sk })))
        return items
          .map(decodeRun)
          .sort((a, b) => b.createdAt - a.createdAt || a.runId.localeCompare(b.runId))
          .slice(0, options?.limit ?? Number.MAX_SAFE_INTEGER)
      }),
    listChunks,
    claimChunk: (runId, start, leaseMs) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const outcome = yield* call("dynamodb claim chunk", (abortSignal) =>
          client.send(
            new UpdateItemCommand({
              TableName: tableName,
              Key: chunkKey(runId, start),
              UpdateExpression: "SET #status = :inprog, #lease = :lease, #started = :now ADD #attempts :one",
              ConditionExpression: "#status = :pending OR (#status = :inprog AND (attribute_not_exists(#lease) OR #lease <= :now))",
              ExpressionAttributeNames: pick("#status", "#lease", "#started", "#attempts"),
              ExpressionAttributeValues: { ":inprog": S("IN_PROGRESS"), ":pending": S("PENDING"), ":lease": N(now + leaseMs), ":now": N(now), ":one": N(1) },
              ReturnValues: "ALL_NEW",
              ReturnValuesOnConditionCheckFailure: "ALL_OLD"
            }),
            { abortSignal }
          )
        ).pipe(
          Effect.map((out) => ({ claimed: true as const, item: out.Attributes ?? {} })),
          Effect.catchIf(
            (e) => isConditionFailed(e.cause),
            (e) => Effect.succeed({ claimed: false as const, item: conditionItem(e.cause) })
          ),
          Effect.mapError(toStorageError)
        )
        if (outcome.claimed) return { _tag: "Claimed", attempt: num(outcome.item, "attempts") } as const
        const current = outcome.item ?? Option.getOrUndefined(yield* getItem("dynamodb claim chunk", chunkKey(runId, start)))
        if (current === undefined) {
          yield* mustGetRun(runId)
          return yield* Effect.fail(new Errors.RunNotFound({ runId: `${runId} chunk ${start}` }))
        }
        const c = decodeChunk(current)
        if (c.status === "COMPLETED" || c.status === "FAILED") return { _tag: "Settled", status: c.status } as const
        return { _tag: "Busy", leaseUntil: c.leaseUntil ?? now } as const
      }),
    completeChunk: (runId, start, result) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        transact(
          "dynamodb complete chunk",
          runId,
          {
            Update: {
              TableName: tableName,
              Key: chunkKey(runId, start),
              UpdateExpression: "SET #status = :completed, #finished = :now, #output = :output, #deferred = :deferred REMOVE #lease, #error",
              ConditionExpression: UNSETTLED,
              ExpressionAttributeNames: pick("#status", "#finished", "#output", "#deferred", "#lease", "#error"),
              ExpressionAttributeValues: {
                ":completed": S("COMPLETED"),
                ":pending": S("PENDING"),
                ":inprog": S("IN_PROGRESS"),
                ":now": N(now),
                ":output": S(result.outputKey),
                ":deferred": N(result.deferred)
              }
            }
          },
          runCounters(runId, {
            jobs_completed: 1,
            spectra_done: result.spectra - result.deferred,
            spectra_deferred: result.deferred,
            slow_pending: result.deferred
          })
        )
      ),
    failChunk: (runId, start, reason) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        transact(
          "dynamodb fail chunk",
          runId,
          {
            Update: {
              TableName: tableName,
              Key: chunkKey(runId, start),
              UpdateExpression: "SET #status = :failed, #finished = :now, #error = :error REMOVE #lease",
              ConditionExpression: UNSETTLED,
              ExpressionAttributeNames: pick("#status", "#finished", "#error", "#lease"),
              ExpressionAttributeValues: {
                ":failed": S("FAILED"),
                ":pending": S("PENDING"),
                ":inprog": S("IN_PROGRESS"),
                ":now": N(now),
                ":error": S(RunTable.clipReason(reason))
              }
            }
          },
          runCounters(runId, { jobs_failed: 1 })
        )
      ),
    noteChunkError: (runId, start, reason) =>
      call("dynamodb note chunk error", (abortSignal) =>
        client.send(
          new UpdateItemCommand({
            TableName: tableName,
            Key: chunkKey(runId, start),
            UpdateExpression: "SET #error = :error REMOVE #lease",
            ConditionExpression: "attribute_exists(pk)",
            ExpressionAttributeNames: pick("#error", "#lease"),
            ExpressionAttributeValues: { ":error": S(RunTable.clipReason(reason)) }
          }),
          { abortSignal }
        )
      ).pipe(
        Effect.asVoid,
        Effect.catchIf((e) => isConditionFailed(e.cause), () => Effect.void),
        Effect.mapError(toStorageError)
      ),
    settleSlow: (runId, start) =>
      Effect.gen(function* () {
        const run = yield* mustGetRun(runId)
        const chunk = yield* getItem("dynamodb settle slow", chunkKey(runId, start))
        const deferred = Option.match(chunk, { onNone: () => 0, onSome: (item) => num(item, "deferred") })
        if (deferred === 0) return { applied: false, run }
        return yield* transact(
          "dynamodb settle slow",
          runId,
          {
            Update: {
              TableName: tableName,
              Key: chunkKey(runId, start),
              UpdateExpression: "SET #deferred = :zero",
              ConditionExpression: "#deferred = :n",
              ExpressionAttributeNames: pick("#deferred"),
              ExpressionAttributeValues: { ":zero": N(0), ":n": N(deferred) }
            }
          },
          runCounters(runId, { slow_pending: -deferred, spectra_done: deferred })
        )
      }),
    transition: (runId, from, to, reason) =>
      Effect.gen(function* () {
        if (from.length === 0) return { applied: false, run: yield* mustGetRun(runId) }
        const now = yield* Clock.currentTimeMillis
        const fromValues = Object.fromEntries(from.map((s, i) => [`:from${i}`, S(s)]))
        return yield* call("dynamodb transition run", (abortSignal) =>
          client.send(
            new UpdateItemCommand({
              TableName: tableName,
              Key: runKey(runId),
              UpdateExpression: `SET #status = :to, #updated = :now${reason === undefined ? "" : ", #reason = :reason"}`,
              ConditionExpression: `attribute_exists(pk) AND #status IN (${Object.keys(fromValues).join(", ")})`,
              ExpressionAttributeNames: { ...pick("#status"), "#updated": "updated_at", ...(reason === undefined ? {} : { "#reason": "reason" }) },
              ExpressionAttributeValues: { ":to": S(to), ":now": N(now), ...fromValues, ...(reason === undefined ? {} : { ":reason": S(reason) }) },
              ReturnValues: "ALL_NEW",
              ReturnValuesOnConditionCheckFailure: "ALL_OLD"
            }),
            { abortSignal }
          )
        ).pipe(
          Effect.map((out): RunTable.Applied => ({ applied: true, run: decodeRun(out.Attributes ?? {}) })),
          Effect.catchIf(
            (e) => isConditionFailed(e.cause),
            (e) => {
              const item = conditionItem(e.cause)
              return item === undefined ? Effect.map(mustGetRun(runId), (run) => ({ applied: false, run })) : Effect.succeed({ applied: false, run: decodeRun(item) })
            }
          ),
          Effect.mapError((e) => (e instanceof Errors.RunNotFound ? e : e instanceof Errors.StorageError ? e : toStorageError(e)))
        )
      }),
    reopenFailed: (runId) =>
      Effect.gen(function* () {
        // Chunks go back in transactions of up to 99 (+ the run): each one keeps the counters exact.
        // A condition that no longer holds (a concurrent reopen) sends us back to re-read (`whileRaced`).
        const round = Effect.gen(function* () {
          const run = yield* mustGetRun(runId)
          const failed = (yield* listChunks(runId)).filter((c) => c.status === "FAILED")
          let reopened = 0
          for (let i = 0; i < failed.length; i += TRANSACTION_CHUNKS) {
            const group = failed.slice(i, i + TRANSACTION_CHUNKS)
            const reopenRun = i === 0 && run.status === "FAILED"
            const now = yield* Clock.currentTimeMillis
            const items: TransactWriteItem[] = [
              ...group.map((c): TransactWriteItem => ({
                Update: {
                  TableName: tableName,
                  Key: chunkKey(runId, c.start),
                  UpdateExpression: "SET #status = :pending REMOVE #lease, #finished",
                  ConditionExpression: "#status = :failed",
                  ExpressionAttributeNames: pick("#status", "#lease", "#finished"),
                  ExpressionAttributeValues: { ":pending": S("PENDING"), ":failed": S("FAILED") }
                }
              })),
              {
                Update: {
                  TableName: tableName,
                  Key: runKey(runId),
                  UpdateExpression: `SET #updated = :now${reopenRun ? ", #status = :running REMOVE #reason" : ""} ADD #failed :minus`,
                  ConditionExpression: reopenRun ? "#status = :failed" : "attribute_exists(pk)",
                  ExpressionAttributeNames: {
                    "#updated": "updated_at",
                    "#failed": "jobs_failed",
                    ...(reopenRun ? { "#status": "status", "#reason": "reason" } : {})
                  },
                  ExpressionAttributeValues: {
                    ":now": N(now),
                    ":minus": N(-group.length),
                    ...(reopenRun ? { ":running": S("RUNNING"), ":failed": S("FAILED") } : {})
                  }
                }
              }
            ]
            const raced = yield* call("dynamodb reopen failed", (abortSignal) =>
              client.send(new TransactWriteItemsCommand({ TransactItems: items }), { abortSignal })
            ).pipe(
              Effect.as(false),
              Effect.catchIf(
                (e) => cancellationCodes(e.cause)?.includes("ConditionalCheckFailed") === true,
                () => Effect.succeed(true)
              ),
              Effect.mapError(toStorageError)
            )
            if (raced) return { raced: true as const, reopened }
            reopened += group.length
          }
          return { raced: false as const, reopened }
        })
        let total = 0
        yield* whileRaced(Effect.map(round, (r) => { total += r.reopened; return r.raced ? ("raced" as const) : r.reopened }))
        return { applied: total > 0, run: yield* mustGetRun(runId), reopened: total }
      }),
    completeStageChunk: (runId, stage, start) =>
      Effect.gen(function* () {
        yield* mustGetRun(runId)
        const now = yield* Clock.currentTimeMillis
        const standing = yield* putIfAbsent("dynamodb complete stage chunk", {
          pk: S(runId),
          sk: S(`${stageSortPrefix(stage)}${chunkSortKey(start)}`),
          finished_at: N(now)
        })
        const done = yield* listStageChunks(runId, stage)
        return { applied: Option.isNone(standing), completed: done.length }
      }),
    stageProgress: (runId) =>
      Effect.map(listStageChunks(runId, null), (items) => {
        const counts: Record<string, number> = {}
        for (const item of items) {
          const stage = str(item, "sk").slice("STAGE#".length).split("#")[0]
          counts[stage] = (counts[stage] ?? 0) + 1
        }
        return counts
      }),
    deleteRun: (runId) =>
      Effect.gen(function* () {
        const keys = yield* queryAll(client, "dynamodb delete run", {
          TableName: tableName,
          ConsistentRead: true,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": S(runId) },
          ProjectionExpression: "pk, sk"
        })
        yield* batchWrite(client, "dynamodb delete run", tableName, keys.map((k) => ({ DeleteRequest: { Key: { pk: k.pk, sk: k.sk } } })))
      })
  }
}

/**
 * The run table in `tableName`; the client is created with the layer and destroyed with it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<RunTable.RunTable> =>
  Layer.scoped(
    RunTable.RunTable,
    Effect.map(
      Effect.acquireRelease(Effect.sync(() => makeClient(options.aws)), (client) => Effect.sync(() => client.destroy())),
      (client) => make(client, options.tableName)
    )
  )
