/**
 * What the DynamoDB and S3 layers guarantee beyond the core's conformance suites, on the
 * emulators: racing writers, creates cut short, transactions larger than DynamoDB allows
 * in one go, journal outputs over the item size limit, long listings.
 */
import { DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb"
import { expect, it } from "@effect/vitest"
import { BlobStore, Journal, RunTable } from "@phs/core"
import { AwsConfig, BlobStoreS3, JournalDynamo, RunTableDynamo, Tables } from "@phs/runtime-lambda"
import { Context, Effect, Layer, Option } from "effect"
import * as nodeFs from "node:fs"
import * as nodeOs from "node:os"
import * as nodePath from "node:path"
import { makeChunks, makeRun } from "../../packages/core/test/conformance/RunTable.js"
import { aws, freshBucket, freshTable } from "./emulators.js"
import { describeEmulated, endpoints } from "./suite.js"

const { s3, dynamodb } = endpoints()

const withTable = <A, E>(f: (table: RunTable.RunTable, tableName: string) => Effect.Effect<A, E>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const tableName = yield* freshTable(dynamodb, Tables.runsTable)
      const table = yield* Effect.provide(RunTable.RunTable, RunTableDynamo.layer({ aws: aws(dynamodb), tableName }))
      return yield* f(table, tableName)
    })
  )

const blobLayer = () => Layer.unwrapScoped(Effect.map(freshBucket(s3), (bucket) => BlobStoreS3.layer({ aws: aws(s3), bucket })))

describeEmulated("RunTableDynamo", () => {
  it.live("of concurrent completions of one chunk, exactly one counts", () =>
    withTable((table) =>
      Effect.gen(function* () {
        const run = makeRun()
        yield* table.createRun(run, makeChunks(run))
        const results = yield* Effect.all(
          Array.from({ length: 12 }, () => table.completeChunk(run.runId, 25, { outputKey: "k", spectra: 25, deferred: 3 }).pipe(Effect.either)),
          { concurrency: "unbounded" }
        )
        const applied = results.filter((r) => r._tag === "Right" && r.right.applied).length
        // A loser either sees the condition fail, or (rarely, under contention) a retryable conflict.
        expect(applied).toBe(1)
        expect(results.every((r) => r._tag === "Right" || (r.left._tag === "StorageError" && r.left.retryable))).toBe(true)
        expect(Option.getOrThrow(yield* table.getRun(run.runId))).toMatchObject({ jobsCompleted: 1, spectraDone: 22, slowPending: 3 })
      })
    )
  )

  it.live("of concurrent claims of one chunk, exactly one wins; the others are Busy", () =>
    withTable((table) =>
      Effect.gen(function* () {
        const run = makeRun()
        yield* table.createRun(run, makeChunks(run))
        const outcomes = yield* Effect.all(Array.from({ length: 8 }, () => table.claimChunk(run.runId, 0, 60_000)), { concurrency: "unbounded" })
        expect(outcomes.filter((o) => o._tag === "Claimed")).toEqual([{ _tag: "Claimed", attempt: 1 }])
        expect(outcomes.filter((o) => o._tag === "Busy").length).toBe(7)
      })
    )
  )

  it.live("createRun finishes a create that stopped between the run item and its chunks", () =>
    withTable((table, tableName) =>
      Effect.gen(function* () {
        const run = makeRun({ runId: "run-cut" })
        // What a create that died right after its first write leaves behind.
        const client = new DynamoDBClient(AwsConfig.clientOptions(aws(dynamodb)))
        yield* Effect.promise(() =>
          client.send(
            new PutItemCommand({
              TableName: tableName,
              Item: {
                pk: { S: "run-cut" },
                sk: { S: "RUN" },
                survey: { S: "grs" },
                created_at: { N: String(run.createdAt) },
                updated_at: { N: String(run.updatedAt) },
                cube_key: { S: run.cubeKey },
                params: { M: { beta: { N: "3.5" }, snr_min: { N: "2" } } },
                code_version: { S: run.codeVersion },
                nx: { N: "10" },
                ny: { N: "10" },
                n_channels: { N: "424" },
                chunk_size: { N: "25" },
                n_spectra: { N: "100" },
                jobs_total: { N: "4" },
                jobs_completed: { N: "0" },
                jobs_failed: { N: "0" },
                spectra_done: { N: "0" },
                spectra_deferred: { N: "0" },
                slow_pending: { N: "0" },
                status: { S: "RUNNING" },
                chunks_pending: { BOOL: true }
              }
            })
          )
        )
        expect(yield* table.listChunks("run-cut")).toEqual([])
        expect(yield* table.createRun(run, makeChunks(run))).toEqual(run)
        expect(yield* table.listChunks("run-cut")).toEqual(makeChunks(run))
        const item = yield* Effect.promise(() => client.send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: "run-cut" }, sk: { S: "RUN" } } })))
        expect(item.Item?.chunks_pending).toBeUndefined()
        client.destroy()
      })
    )
  )

  it.live("reopenFailed reopens more chunks than one transaction can hold, keeping the counters exact", () =>
    withTable((table) =>
      Effect.gen(function* () {
        const run = makeRun({ runId: "run-big", nSpectra: 250, chunkSize: 1, jobsTotal: 250 })
        yield* table.createRun(run, makeChunks(run))
        yield* Effect.forEach(makeChunks(run).slice(0, 240), (c) => table.failChunk(run.runId, c.start, "dead-lettered"), { concurrency: 16, discard: true })
        yield* table.transition(run.runId, ["RUNNING"], "FAILED", "240 chunk(s) failed")
        const reopened = yield* table.reopenFailed(run.runId)
        expect(reopened).toMatchObject({ applied: true, reopened: 240, run: { jobsFailed: 0, status: "RUNNING", reason: null } })
        const chunks = yield* table.listChunks(run.runId)
        expect(chunks.filter((c) => c.status === "PENDING").length).toBe(250)
      })
    )
  )

  it.live("the by-survey index holds runs only: listRuns never meets a chunk", () =>
    withTable((table) =>
      Effect.gen(function* () {
        for (const [i, survey] of ["grs", "grs", "cgps"].entries()) {
          const run = makeRun({ runId: `run-${i}`, survey, createdAt: 1000 + i, nSpectra: 300, chunkSize: 1, jobsTotal: 300 })
          yield* table.createRun(run, makeChunks(run))
        }
        expect((yield* table.listRuns()).map((r) => r.runId)).toEqual(["run-2", "run-1", "run-0"])
        expect((yield* table.listRuns({ survey: "grs", limit: 1 })).map((r) => r.runId)).toEqual(["run-1"])
      })
    )
  )
})

describeEmulated("JournalDynamo", () => {
  const entry = (output: string): Journal.JournalEntry => ({
    runId: "run-a",
    stage: "split",
    scope: "run",
    step: "enqueue",
    inputHash: "h#1%",
    seq: 4,
    output,
    recordedAt: 7
  })

  const withJournal = <A, E>(f: (journal: Journal.Journal, store: BlobStore.BlobStore) => Effect.Effect<A, E>) =>
    Effect.scoped(
      Effect.gen(function* () {
        const tableName = yield* freshTable(dynamodb, Tables.journalTable)
        const ctx = yield* Layer.build(JournalDynamo.layer({ aws: aws(dynamodb), tableName }).pipe(Layer.provideMerge(blobLayer())))
        return yield* f(Context.get(ctx, Journal.Journal), Context.get(ctx, BlobStore.BlobStore))
      })
    )

  it.live("an output over the item size limit is kept in S3 and read back whole", () =>
    withJournal((journal, store) =>
      Effect.gen(function* () {
        const big = JSON.stringify({ tasks: Array.from({ length: 8000 }, (_, i) => ({ start: i * 500, payloadKey: `chunks/run-a/chunk-${i}.f32` })) })
        expect(big.length).toBeGreaterThan(400_000)
        expect(yield* journal.record(entry(big))).toEqual(entry(big))
        expect(yield* store.list("journal/run-a/")).toEqual([JournalDynamo.outputBlobKey("run-a", big)])
        expect(yield* journal.lookup(entry("?"))).toEqual(Option.some(entry(big)))
        expect(yield* journal.entries("run-a")).toEqual([entry(big)])
      })
    )
  )

  it.live("of racing records of one step, the first stands for every racer", () =>
    withJournal((journal) =>
      Effect.gen(function* () {
        const stood = yield* Effect.all(Array.from({ length: 10 }, (_, i) => journal.record(entry(`{"racer":${i}}`))), { concurrency: "unbounded" })
        expect(new Set(stood.map((e) => e.output)).size).toBe(1)
        expect(yield* journal.lookup(entry("?"))).toEqual(Option.some(stood[0]))
      })
    )
  )
})

describeEmulated("BlobStoreS3", () => {
  it.live("list follows continuation tokens past a page (1000 keys)", () =>
    Effect.gen(function* () {
      const store = yield* BlobStore.BlobStore
      const keys = Array.from({ length: 1005 }, (_, i) => `chunks/run-a/chunk-${String(i).padStart(7, "0")}.f32`)
      yield* Effect.forEach(keys, (k) => store.put(k, new Uint8Array([1])), { concurrency: 32, discard: true })
      expect(yield* store.list("chunks/run-a/")).toEqual(keys)
    }).pipe(Effect.provide(blobLayer()))
  )

  it.live("ranged reads of a multi-megabyte blob return exactly the range", () =>
    Effect.gen(function* () {
      const store = yield* BlobStore.BlobStore
      const bytes = Uint8Array.from({ length: 3 * 1024 * 1024 + 17 }, (_, i) => (i * 7) % 251)
      yield* store.put("cubes/big.fits", bytes)
      expect(yield* store.getRange("cubes/big.fits", 1_000_003, 65_536)).toEqual(bytes.slice(1_000_003, 1_000_003 + 65_536))
      expect(yield* store.getRange("cubes/big.fits", bytes.length - 5, 100)).toEqual(bytes.slice(bytes.length - 5))
      expect(yield* store.size("cubes/big.fits")).toEqual(Option.some(bytes.length))
    }).pipe(Effect.provide(blobLayer()))
  )
})

describeEmulated("BlobStoreS3.putFile", () => {
  it.live("uploads a file larger than one part as a multipart upload, byte for byte", () =>
    Effect.gen(function* () {
      const store = yield* BlobStore.BlobStore
      const file = nodePath.join(nodeFs.mkdtempSync(nodePath.join(nodeOs.tmpdir(), "phs-s3-")), "cube.fits")
      const content = Uint8Array.from({ length: 17 * 1024 * 1024 + 123 }, (_, i) => (i * 7 + (i >> 13)) % 256)
      nodeFs.writeFileSync(file, content)
      yield* store.putFile("cubes/big.fits", file)
      expect(yield* store.size("cubes/big.fits")).toEqual(Option.some(content.length))
      const back = yield* store.get("cubes/big.fits")
      expect(Buffer.compare(Buffer.from(back), Buffer.from(content))).toBe(0)
    }).pipe(Effect.provide(blobLayer()))
  )
})
