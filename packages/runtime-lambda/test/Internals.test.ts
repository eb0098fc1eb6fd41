/**
 * What an SDK error means (retryable or not), the self-contained SQS receipts, and the
 * environment contract of the handlers.
 */
import { describe, expect, it } from "@effect/vitest"
import { HandlerSetup, RuntimeAws, WorkQueueSqs } from "@phs/runtime-lambda"
import { RunTable } from "@phs/core"
import { Either, Option, Schema } from "effect"
import { makeRun } from "../../core/test/conformance/RunTable.js"
import { fromItem, toItem } from "../src/internal/dynamo.js"
import { isTransient, toStorageError, AwsCallError } from "../src/internal/aws.js"

const sdkError = (name: string, status?: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`${name} happened`), { name, $fault: "client", $metadata: status === undefined ? {} : { httpStatusCode: status }, ...extra })

describe("SDK errors", () => {
  it("throttling, 5xx, timeouts and lost connections are retryable", () => {
    for (const e of [
      sdkError("SlowDown", 503),
      sdkError("ThrottlingException", 400),
      sdkError("ProvisionedThroughputExceededException", 400),
      sdkError("Whatever", 500),
      sdkError("Whatever", 429),
      sdkError("Unknown", 400, { $retryable: { throttling: true } }),
      sdkError("TimeoutError"),
      Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })
    ])
      expect(isTransient(e)).toBe(true)
  })

  it("client errors are fatal", () => {
    for (const e of [sdkError("AccessDenied", 403), sdkError("ValidationException", 400), sdkError("NoSuchBucket", 404)]) expect(isTransient(e)).toBe(false)
  })

  it("become StorageErrors naming the operation and key", () => {
    const e = toStorageError(new AwsCallError("s3 put", sdkError("SlowDown", 503), "chunks/r/x"))
    expect(e).toMatchObject({ _tag: "StorageError", operation: "s3 put", key: "chunks/r/x", retryable: true })
    expect(e.reason).toContain("SlowDown")
  })
})

describe("SQS receipts", () => {
  it("carry the delivery: handle, id, receive count and body", () => {
    const d = { handle: "AQEB+/=xyz", id: "m-1", receiveCount: 2, body: JSON.stringify({ runId: "r", note: "ünïcode ✓" }) }
    expect(WorkQueueSqs.decodeReceipt(WorkQueueSqs.encodeReceipt(d))).toEqual(Option.some(d))
  })

  it("a string that is not one of ours decodes to none", () => {
    for (const s of ["", "no-such-receipt", "sqs1.@@@", "sqs1." + Buffer.from("[1,2]").toString("base64url")])
      expect(WorkQueueSqs.decodeReceipt(s)).toEqual(Option.none())
  })

  it("visibility is whole seconds, rounded up, within SQS's bounds", () => {
    expect([0, 1, 999, 1000, 1001, 5000, 10 ** 9].map(WorkQueueSqs.toSeconds)).toEqual([0, 1, 1, 1, 2, 5, 43_200])
  })
})

const env = {
  AWS_REGION: "eu-west-1",
  PHS_BUCKET: "phs-data",
  PHS_RUNS_TABLE: "phs-runs",
  PHS_JOURNAL_TABLE: "phs-journal",
  PHS_FIT_QUEUE_URL: "https://sqs/fit",
  PHS_FIT_DLQ_URL: "https://sqs/fit-dlq",
  PHS_SLOW_QUEUE_URL: "https://sqs/slow",
  PHS_SLOW_DLQ_URL: "https://sqs/slow-dlq"
}

describe("RuntimeAws.fromEnv", () => {
  it("reads the contract, with defaults for the Glue database, projection and Athena", () => {
    const config = Either.getOrThrow(RuntimeAws.fromEnv({ ...env, PHS_CATALOG_QUEUE_URL: "https://sqs/catalog" }))
    expect(config).toMatchObject({
      aws: { region: "eu-west-1" },
      bucket: "phs-data",
      runsTable: "phs-runs",
      journalTable: "phs-journal",
      queues: { fit: { url: "https://sqs/fit", dlqUrl: "https://sqs/fit-dlq" }, slow: { url: "https://sqs/slow", dlqUrl: "https://sqs/slow-dlq" } },
      catalogQueueUrl: "https://sqs/catalog",
      glueDatabase: "phspectra",
      partitionProjection: true,
      athena: { workgroup: "primary", outputLocation: "s3://phs-data/athena-results/" }
    })
    expect(config.aws.endpoint).toBeUndefined()
  })

  it("takes endpoint overrides for emulators, and projection off", () => {
    const config = Either.getOrThrow(
      RuntimeAws.fromEnv({ ...env, PHS_AWS_ENDPOINT: "http://localhost:4566", PHS_S3_ENDPOINT: "http://127.0.0.1:9000", PHS_PARTITION_PROJECTION: "false" })
    )
    expect(config.aws.endpoint).toBe("http://localhost:4566")
    expect(config.endpoints).toEqual({ s3: "http://127.0.0.1:9000" })
    expect(config.partitionProjection).toBe(false)
  })

  it("names every missing or malformed variable", () => {
    const error = Either.getLeft(RuntimeAws.fromEnv({ AWS_REGION: "eu-west-1", PHS_PARTITION_PROJECTION: "yes", PHS_FIT_THREADS: "0" }))
    expect(Option.isSome(error)).toBe(true)
    const reason = Option.getOrThrow(error).reason
    for (const name of ["PHS_BUCKET", "PHS_RUNS_TABLE", "PHS_JOURNAL_TABLE", "PHS_FIT_QUEUE_URL", "PHS_SLOW_DLQ_URL", "PHS_PARTITION_PROJECTION", "PHS_FIT_THREADS"])
      expect(reason).toContain(name)
  })
})

describe("HandlerSetup.fromEnv", () => {
  it("refuses a bad environment at the first invocation, naming every problem", () => {
    expect(() => HandlerSetup.fromEnv({ AWS_REGION: "eu-west-1" })).toThrow(/PHS_BUCKET is not set.*PHS_RUNS_TABLE is not set/)
    expect(() => HandlerSetup.fromEnv({ ...env, PHS_CHUNK_LEASE_MS: "soon" })).toThrow(/PHS_CHUNK_LEASE_MS/)
  })

  it("takes the chunk lease override", async () => {
    const setup = HandlerSetup.fromEnv({ ...env, PHS_CHUNK_LEASE_MS: "120000" })
    expect(setup.chunkLeaseMs).toBe(120_000)
    await setup.runtime.dispose()
  })

  it("builds a container's setup once", () => {
    let made = 0
    const get = HandlerSetup.once(() => ++made)
    expect([get(), get(), get()]).toEqual([1, 1, 1])
  })
})

describe("DynamoDB items of the run table's storage records", () => {
  it("a run and a chunk survive encode → item → decode; null fields are left out of the item and read back as null", () => {
    const run = makeRun({ reason: null, params: { beta: 3.5, snr_min: 1.5 } })
    const runItem = toItem(Schema.encodeSync(RunTable.StoredRun)(run))
    expect(runItem.reason).toBeUndefined()
    expect(runItem.params).toEqual({ M: { beta: { N: "3.5" }, snr_min: { N: "1.5" } } })
    expect(Schema.decodeUnknownSync(RunTable.StoredRun)(fromItem(runItem))).toEqual(run)
    const chunk = { ...RunTable.pendingChunk("run-a", 100, 50), status: "FAILED" as const, attempts: 2, error: "FitError: x", finishedAt: 5 }
    const chunkItem = toItem(Schema.encodeSync(RunTable.StoredChunk)(chunk))
    expect(chunkItem.lease_until).toBeUndefined()
    expect(chunkItem.error).toEqual({ S: "FitError: x" })
    expect(Schema.decodeUnknownSync(RunTable.StoredChunk)(fromItem(chunkItem))).toEqual(chunk)
  })

  it("a run's cube file name is item attribute cube_name, and an item without one reads back without it", () => {
    const run = makeRun({ cubeName: "grs-l15.fits" })
    const item = toItem(Schema.encodeSync(RunTable.StoredRun)(run))
    expect(item.cube_name).toEqual({ S: "grs-l15.fits" })
    expect(Schema.decodeUnknownSync(RunTable.StoredRun)(fromItem(item))).toEqual(run)
    const { cube_name: _, ...older } = item
    const read = Schema.decodeUnknownSync(RunTable.StoredRun)(fromItem(older))
    expect("cubeName" in read).toBe(false)
    expect(RunTable.cubeNameOf(read)).toBe(run.cubeKey)
  })

  it("a stored record that is not a run does not decode", () => {
    expect(() => Schema.decodeUnknownSync(RunTable.StoredRun)(fromItem({ run_id: { S: "r" }, status: { S: "LOST" } }))).toThrow()
  })
})
