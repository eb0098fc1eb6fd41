/**
 * The Lambda handlers driven in-process against the emulators, as AWS would drive them: a
 * cube and manifest put in S3, the splitter invoked with the EventBridge event, the fit,
 * slow and catalog queues drained through their handlers by a reduced SQS event source
 * (`lambda.drain`). Each test gets a fresh deployment; faults come from wrappers around the
 * services.
 */
import { SendMessageCommand } from "@aws-sdk/client-sqs"
import { BlobStore, Catalog, Errors, Fitter, Journal, Keys, Pipeline, RunTable, WorkQueue } from "@phs/core"
import { CatalogGlue, CatalogHandler, SlowWorkerHandler, SplitterHandler, WorkerHandler } from "@phs/runtime-lambda"
import type { SQSEvent } from "aws-lambda"
import { Effect, Layer, Schedule } from "effect"
import { afterAll, beforeAll, beforeEach, expect, it, vi } from "vitest"
import { fakeGlue } from "../../packages/runtime-lambda/test/fakes.js"
import { cubeData } from "../support/cubes.js"
import {
  blobJson,
  type Deployment,
  deploy,
  fitterThreads,
  flow,
  getRun,
  type Handlers,
  handlers,
  listChunks,
  over,
  putObject,
  runIdOf,
  runLocally,
  tableRows,
  upload,
  type Upload
} from "./deployment.js"
import { startSqs } from "./emulators.js"
import { describeEmulated, emulated, endpoints } from "./suite.js"
import { context, drain, objectCreated } from "./lambda.js"

let sqs: Awaited<ReturnType<typeof startSqs>>
const logs: string[] = []

beforeAll(async () => {
  if (!emulated) return
  sqs = await startSqs()
  vi.spyOn(console, "log").mockImplementation((line: unknown) => void logs.push(String(line)))
})

afterAll(async () => {
  if (!emulated) return
  vi.restoreAllMocks()
  await sqs.stop()
})

beforeEach(() => {
  logs.length = 0
})

/** A fresh deployment and handlers over it, both removed after `f`. */
const withDeployment = async <A>(
  options: Parameters<typeof handlers>[1],
  f: (d: Deployment, h: Handlers) => Promise<A>
): Promise<A> => {
  const d = await deploy({ ...endpoints(), sqs: sqs.endpoint }, sqs.server)
  const h = handlers(d.config, options)
  try {
    return await f(d, h)
  } finally {
    await h.dispose()
    await d.dispose()
  }
}

/** 7 × 5 spectra (two blank) in chunks of 8: five chunks, the last of 3. */
const small: Upload = { survey: "grs", cube: { nx: 7, ny: 5, seed: 11, blankPixels: [4, 20] } }

const expectExactlyOnce = async (h: Handlers, runId: string, survey: string, n: number) => {
  const run = await h.run(getRun(runId))
  expect(run).toMatchObject({ status: "COMPLETED", nSpectra: n, spectraDone: n, slowPending: 0, jobsFailed: 0 })
  expect(run.jobsCompleted).toBe(run.jobsTotal)
  const rows = await h.run(tableRows(survey))
  expect(rows.length).toBe(n)
  expect(new Set(rows.map((r) => `${r.x},${r.y}`)).size).toBe(n)
  expect(rows.every((r) => r.run_id === runId && r.n_components >= 0)).toBe(true)
  const chunks = await h.run(listChunks(runId))
  expect(chunks.every((c) => c.status === "COMPLETED" && c.deferred === 0)).toBe(true)
  return { run, rows }
}

const deadLetterDepth = (h: Handlers) =>
  h.run(Effect.flatMap(WorkQueue.WorkQueue, (q) => Effect.all([q.depth("fit"), q.depth("slow")]))).then(([fit, slow]) => fit.deadLetters + slow.deadLetters)

/** Fails the listed calls (1-based, counted over every method) with a retryable throttling error. */
const throttled = <S extends object>(service: S, failAt: ReadonlySet<number>, counter: { n: number; on: boolean }): S =>
  Object.fromEntries(
    Object.entries(service).map(([name, f]) => [
      name,
      typeof f === "function"
        ? (...args: unknown[]) =>
            Effect.suspend(() =>
              counter.on && failAt.has(++counter.n)
                ? Effect.fail(new Errors.StorageError({ operation: name, reason: "ThrottlingException: Rate exceeded (injected)", retryable: true }))
                : (f as (...a: unknown[]) => Effect.Effect<unknown>)(...args)
            )
        : f
    ])
  ) as S

describeEmulated("the aws handlers on the emulators", () => {
  it("a manifest put in S3 becomes a COMPLETED run: every spectrum once, counters exact (handlers built from the environment)", async () => {
    await withDeployment({}, async (d, h) => {
      Object.assign(process.env, d.env)
      const key = await upload(d, small)
      const f = await flow(d, { splitter: SplitterHandler.handler, worker: WorkerHandler.handler, slowWorker: SlowWorkerHandler.handler, catalog: CatalogHandler.handler }, key)
      const runId = runIdOf(f)
      const { run } = await expectExactlyOnce(h, runId, "grs", 35)
      expect(run).toMatchObject({ jobsTotal: 5, jobsCompleted: 5, spectraDeferred: 0 })
      expect(f.fit).toMatchObject({ invocations: 5, deleted: 5, itemFailures: 0, crashed: 0 })
      expect(f.catalog.deleted).toBe(1)
      const validation = await h.run(blobJson(Keys.runMeta(runId, "_validation.json")))
      expect(validation).toMatchObject({ valid: true, rows: 35, duplicates: 0, deferredLeft: 0, blank: 2 })
      const parts = await h.run(Effect.flatMap(BlobStore.BlobStore, (s) => s.list("decompositions/survey=grs/")))
      expect(parts).toEqual([Keys.resultPart("grs", runId, 0)])
      const entries = await h.run(Effect.flatMap(Journal.Journal, (j) => j.entries(runId)))
      expect(new Set(entries.map((e) => e.stage))).toEqual(new Set(["split", "fit", "catalog"]))
      expect(await deadLetterDepth(h)).toBe(0)
      const lines = logs.map((l) => JSON.parse(l) as Record<string, unknown>)
      expect(lines.filter((l) => l.handler === "splitter")).toEqual([expect.objectContaining({ _tag: "Started", runId, key })])
      expect(lines.filter((l) => l.handler === "worker").length).toBe(5)
    })
  })

  it("the result table is identical to the local runtime's on the same cube and parameters", async () => {
    await withDeployment({}, async (d, h) => {
      const u: Upload = { survey: "cmp", cube: { nx: 6, ny: 4, seed: 5, blankPixels: [7] }, params: { beta: 4, snr_min: 2.5 }, chunkSize: 5 }
      const f = await flow(d, h, await upload(d, u))
      const aws = await expectExactlyOnce(h, runIdOf(f), "cmp", 24)
      const local = await Effect.runPromise(
        runLocally(u).pipe(
          Effect.provide(
            Layer.mergeAll(BlobStore.layerMemory, WorkQueue.layerMemory, RunTable.layerMemory, Journal.layerMemory, Catalog.layerMemory, fitterThreads)
          )
        )
      )
      expect(local.run.status).toBe("COMPLETED")
      expect(local.run.runId).toBe(runIdOf(f))
      expect(aws.rows).toEqual(local.rows)
    })
  })

  it("registers the survey's partition when the table does not project partitions", async () => {
    const glue = fakeGlue()
    await withDeployment({}, async (d) => {
      const h = handlers(d.config, {
        wraps: [over(Catalog.Catalog, () => CatalogGlue.make(glue.api, { bucket: d.config.bucket, partitionProjection: false }))]
      })
      try {
        const f = await flow(d, h, await upload(d, small))
        await expectExactlyOnce(h, runIdOf(f), "grs", 35)
        expect(await h.run(Effect.flatMap(Catalog.Catalog, (c) => c.partitions("phspectra", "decompositions")))).toEqual([
          { database: "phspectra", table: "decompositions", values: { survey: "grs" }, location: "decompositions/survey=grs/" }
        ])
      } finally {
        await h.dispose()
      }
    })
  })

  it("redelivered and duplicate fit messages change nothing: counted once, even by concurrent workers", async () => {
    await withDeployment({}, async (d, h) => {
      const seen = new Set<string>()
      const events: SQSEvent[] = []
      const f = await flow(d, h, await upload(d, small), {
        drain: { pollers: 3 },
        aroundWorker: (worker) => async (event, ctx) => {
          events.push(event)
          for (const r of event.Records) {
            if (seen.has(r.body)) continue
            seen.add(r.body)
            await d.sqs.send(new SendMessageCommand({ QueueUrl: d.queues.fit.url, MessageBody: r.body }))
          }
          return worker(event, ctx)
        }
      })
      const runId = runIdOf(f)
      expect(f.fit.bodies.length).toBeGreaterThanOrEqual(10)
      const { run } = await expectExactlyOnce(h, runId, "grs", 35)
      const chunk0 = await h.run(Effect.flatMap(BlobStore.BlobStore, (s) => s.get(Keys.chunkResult(runId, 0))))
      // The very same record again, after the run finished: handled, nothing changes.
      const again = await h.worker(events[0], context(900_000))
      expect(again).toEqual({ batchItemFailures: [] })
      expect(await h.run(getRun(runId))).toEqual(run)
      expect(await h.run(Effect.flatMap(BlobStore.BlobStore, (s) => s.get(Keys.chunkResult(runId, 0))))).toEqual(chunk0)
      expect(await deadLetterDepth(h)).toBe(0)
    })
  })

  it("a worker that crashes between the Parquet write and the commit is retried, and the chunk counts once", async () => {
    let crashes = 0
    const crashOnce = over(RunTable.RunTable, (t) => ({
      ...t,
      completeChunk: (runId, start, result) =>
        start === 8 && crashes === 0
          ? Effect.sync(() => crashes++).pipe(Effect.zipRight(Effect.die(new Error("worker crashed before the commit"))))
          : t.completeChunk(runId, start, result)
    }))
    await withDeployment({ wraps: [crashOnce] }, async (d, h) => {
      const f = await flow(d, h, await upload(d, small))
      expect(crashes).toBe(1)
      expect(f.fit.itemFailures).toBe(1)
      await expectExactlyOnce(h, runIdOf(f), "grs", 35)
      const chunk = (await h.run(listChunks(runIdOf(f)))).find((c) => c.start === 8)!
      expect(chunk.attempts).toBe(2)
    })
  })

  it("a worker killed after the commit but before the journal records it is retried, and the chunk counts once", async () => {
    let kills = 0
    const killAfterCommit = over(RunTable.RunTable, (t) => ({
      ...t,
      completeChunk: (runId, start, result) =>
        start === 16 && kills === 0
          ? t.completeChunk(runId, start, result).pipe(Effect.tap(() => kills++), Effect.zipRight(Effect.interrupt))
          : t.completeChunk(runId, start, result)
    }))
    await withDeployment({ wraps: [killAfterCommit] }, async (d, h) => {
      const f = await flow(d, h, await upload(d, small))
      expect(kills).toBe(1)
      expect(f.fit.crashed).toBe(1)
      const { run } = await expectExactlyOnce(h, runIdOf(f), "grs", 35)
      expect(run.jobsCompleted).toBe(5)
    })
  })

  it("throttled S3 and DynamoDB calls are retried: the run completes with exact counters", async () => {
    // Calls (1-based, per service) that fail after the SDK's own retries: some in each stage.
    const failing = { blobs: new Set([2, 12, 25]), table: new Set([3, 9, 17]), journal: new Set([4, 15, 28, 36]) }
    const counters = { blobs: { n: 0, on: true }, table: { n: 0, on: true }, journal: { n: 0, on: true } }
    await withDeployment(
      {
        wraps: [
          over(BlobStore.BlobStore, (s) => throttled(s, failing.blobs, counters.blobs)),
          over(RunTable.RunTable, (t) => throttled(t, failing.table, counters.table)),
          over(Journal.Journal, (j) => throttled(j, failing.journal, counters.journal))
        ]
      },
      async (d, h) => {
        const f = await flow(d, h, await upload(d, small), { drain: { visibilitySeconds: 1 } })
        for (const c of Object.values(counters)) c.on = false
        await expectExactlyOnce(h, runIdOf(f), "grs", 35)
        expect(counters.blobs.n).toBeGreaterThan(25)
        expect(counters.table.n).toBeGreaterThan(17)
        expect(counters.journal.n).toBeGreaterThan(36)
        expect(await deadLetterDepth(h)).toBe(0)
      }
    )
  })

  it("spectra over their time budget are deferred, refitted by the slow worker, and counted once", async () => {
    const everyOtherTooSlow = over(Fitter.Fitter, (fitter) => ({
      ...fitter,
      decomposeBatch: (spectra, n, params, options) =>
        Effect.map(fitter.decomposeBatch(spectra, n, params, options), (results) =>
          options.timeoutMs > 0 ? results.map((r, i) => (i % 2 === 0 ? { ...r, status: "timeout" as const, components: [] } : r)) : results
        )
    }))
    await withDeployment({ wraps: [everyOtherTooSlow] }, async (d, h) => {
      const f = await flow(d, h, await upload(d, small))
      const { run } = await expectExactlyOnce(h, runIdOf(f), "grs", 35)
      expect(run.spectraDeferred).toBe(4 * 4 + 2)
      expect(f.slow).toMatchObject({ invocations: 5, deleted: 5, itemFailures: 0 })
      expect(f.catalog.deleted).toBe(1)
    })
  })

  it("with less than 60 s left in the invocation, every spectrum is deferred to the slow queue", async () => {
    await withDeployment({}, async (d, h) => {
      const f = await flow(d, h, await upload(d, small), { remainingMs: 30_000 })
      const { run } = await expectExactlyOnce(h, runIdOf(f), "grs", 35)
      expect(run.spectraDeferred).toBe(35)
      expect(f.slow.deleted).toBe(5)
      const lines = logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.handler === "slowWorker")
      expect(lines.length).toBe(5)
    })
  })

  it("a chunk whose fit keeps failing is dead-lettered after 3 deliveries with its reason, and the run fails saying why", async () => {
    const first = cubeData(small.cube)[0]
    const brokenChunk0 = over(Fitter.Fitter, (fitter) => ({
      ...fitter,
      decomposeBatch: (spectra, n, params, options) =>
        spectra[0] === first ? Effect.fail(new Errors.FitError({ reason: "native pool lost (injected)", retryable: true })) : fitter.decomposeBatch(spectra, n, params, options)
    }))
    // No retries within an invocation: each delivery is one attempt (the fit step still retries its own).
    await withDeployment({ wraps: [brokenChunk0], retry: Schedule.stop }, async (d, h) => {
      const f = await flow(d, h, await upload(d, small))
      const run = await h.run(getRun(runIdOf(f)))
      expect(run).toMatchObject({ status: "FAILED", jobsCompleted: 4, jobsFailed: 1 })
      expect(run.reason).toContain("native pool lost")
      const dead = await h.run(Effect.flatMap(WorkQueue.WorkQueue, (q) => q.deadLetters("fit")))
      expect(dead.length).toBe(1)
      expect(dead[0].receiveCount).toBe(3)
      expect(dead[0].reason).toContain("native pool lost")
      expect(JSON.parse(dead[0].body)).toMatchObject({ start: 0 })
      expect(await h.run(Effect.flatMap(BlobStore.BlobStore, (s) => s.list("decompositions/")))).toEqual([])
    })
  })

  it("a chunk failed by a fatal error is dead-lettered, not acked, and reopening the run completes it exactly once", async () => {
    const first = cubeData(small.cube)[0]
    const broken = { on: true }
    const fatalChunk0 = over(Fitter.Fitter, (fitter) => ({
      ...fitter,
      decomposeBatch: (spectra, n, params, options) =>
        broken.on && spectra[0] === first
          ? Effect.fail(new Errors.FitError({ reason: "queue ack: database or disk is full (injected)", retryable: false }))
          : fitter.decomposeBatch(spectra, n, params, options)
    }))
    await withDeployment({ wraps: [fatalChunk0] }, async (d, h) => {
      const f = await flow(d, h, await upload(d, small))
      const runId = runIdOf(f)
      expect(await h.run(getRun(runId))).toMatchObject({ status: "FAILED", jobsCompleted: 4, jobsFailed: 1 })
      const dead = await h.run(Effect.flatMap(WorkQueue.WorkQueue, (q) => q.deadLetters("fit")))
      expect(dead.length).toBe(1)
      expect(dead[0].receiveCount).toBe(1)
      expect(dead[0].reason).toContain("database or disk is full")
      broken.on = false
      expect(await h.run(Pipeline.reopen(runId))).toEqual({ redriven: 1, reopenedChunks: 1, resent: 0 })
      await drain(d.sqs, d.queues.fit.url, (e) => h.worker(e, context(900_000)))
      await drain(d.sqs, d.queues.slow.url, (e) => h.slowWorker(e, context(900_000)))
      await drain(d.sqs, d.queues.catalog, (e) => h.catalog(e, context(900_000)))
      const { run } = await expectExactlyOnce(h, runId, "grs", 35)
      expect(run).toMatchObject({ status: "COMPLETED", jobsCompleted: 5, jobsFailed: 0 })
      expect(await h.run(Effect.flatMap(WorkQueue.WorkQueue, (q) => q.deadLetters("fit")))).toEqual([])
    })
  })

  it("a catalog that cannot finish fails the run with the reason instead of leaving it CATALOGING", async () => {
    const unreadable = over(BlobStore.BlobStore, (s) => ({
      ...s,
      get: (key) =>
        key.endsWith("chunk-0000008.parquet")
          ? Effect.fail(new Errors.StorageError({ operation: "s3 get", key, reason: "AccessDenied: Access Denied (injected)", retryable: false }))
          : s.get(key)
    }))
    await withDeployment({ wraps: [unreadable] }, async (d, h) => {
      const f = await flow(d, h, await upload(d, small))
      const run = await h.run(getRun(runIdOf(f)))
      expect(run).toMatchObject({ status: "FAILED", jobsCompleted: 5, spectraDone: 35 })
      expect(run.reason).toMatch(/^catalog: StorageError: s3 get chunks\/.*chunk-0000008\.parquet: AccessDenied/)
      expect(f.catalog).toMatchObject({ invocations: 1, deleted: 1, itemFailures: 0 })
    })
  })

  it("a message that is not a fit task goes to the dead letters at once, with the reason", async () => {
    await withDeployment({}, async (d, h) => {
      await d.sqs.send(new SendMessageCommand({ QueueUrl: d.queues.fit.url, MessageBody: "not json" }))
      const stats = await drain(d.sqs, d.queues.fit.url, (e) => h.worker(e, context(900_000)))
      expect(stats).toMatchObject({ invocations: 1, itemFailures: 0, deleted: 1 })
      const dead = await h.run(Effect.flatMap(WorkQueue.WorkQueue, (q) => q.deadLetters("fit")))
      expect(dead).toEqual([expect.objectContaining({ body: "not json", receiveCount: 1, reason: "InvalidInput: message body is not JSON" })])
    })
  })
})

describeEmulated("the splitter refuses what it cannot run, and records why", () => {
  const refusal = async (d: Deployment, h: Handlers, key: string) => {
    const result = await h.splitter(objectCreated(d.config.bucket, key))
    expect(result._tag).toBe("Refused")
    if (result._tag !== "Refused") throw new Error("not refused")
    expect(result.runId).toBe(SplitterHandler.invalidRunId(key))
    return h.run(getRun(result.runId))
  }

  it("a manifest that is not JSON fails a run named after the manifest", async () => {
    await withDeployment({}, async (d, h) => {
      await putObject(d, "manifests/broken.json", new TextEncoder().encode("{ not json"))
      const run = await refusal(d, h, "manifests/broken.json")
      expect(run).toMatchObject({ status: "FAILED", survey: "_invalid", jobsTotal: 0 })
      expect(run.reason).toMatch(/^manifest manifests\/broken\.json: the manifest is not JSON/)
    })
  })

  it("unknown parameters fail the run, listing the valid ones; uploading it again updates the reason", async () => {
    await withDeployment({}, async (d, h) => {
      await putObject(d, "cubes/grs.fits", new Uint8Array(10))
      const key = "manifests/typo.json"
      await putObject(d, key, new TextEncoder().encode(JSON.stringify({ cube_key: "cubes/grs.fits", survey: "grs", params: { betta: 3 } })))
      const run = await refusal(d, h, key)
      expect(run.survey).toBe("grs")
      expect(run.reason).toMatch(/betta/)
      expect(run.reason).toMatch(/snr_min/)
      await putObject(d, key, new TextEncoder().encode(JSON.stringify({ cube_key: "cubes/none.fits", survey: "grs" })))
      const again = await refusal(d, h, key)
      expect(again.reason).toBe(`manifest ${key}: no cube at cubes/none.fits`)
      expect(await h.run(Effect.flatMap(RunTable.RunTable, (t) => t.listRuns()))).toHaveLength(1)
    })
  })

  it("a cube that is not FITS fails the run with the reader's reason, and nothing is queued", async () => {
    await withDeployment({}, async (d, h) => {
      await putObject(d, "cubes/bad.fits", new TextEncoder().encode("SIMPLE = nonsense".padEnd(2880 * 2, " ")))
      await putObject(d, "manifests/bad.json", new TextEncoder().encode(JSON.stringify({ cube_key: "cubes/bad.fits", survey: "bad" })))
      const run = await refusal(d, h, "manifests/bad.json")
      expect(run.status).toBe("FAILED")
      expect(run.reason!.length).toBeGreaterThan("manifest manifests/bad.json: ".length)
      expect(await h.run(Effect.flatMap(WorkQueue.WorkQueue, (q) => q.depth("fit")))).toEqual({ visible: 0, inFlight: 0, deadLetters: 0 })
    })
  })

  it("objects outside manifests/*.json are ignored", async () => {
    await withDeployment({}, async (d, h) => {
      expect(await h.splitter(objectCreated(d.config.bucket, "cubes/grs.fits"))).toEqual({ _tag: "Ignored", key: "cubes/grs.fits" })
      expect(await h.run(Effect.flatMap(RunTable.RunTable, (t) => t.listRuns()))).toEqual([])
    })
  })

  it("the same manifest twice starts one run", async () => {
    await withDeployment({}, async (d, h) => {
      const key = await upload(d, small)
      const first = await h.splitter(objectCreated(d.config.bucket, key))
      const second = await h.splitter(objectCreated(d.config.bucket, key))
      expect(second).toMatchObject({ _tag: "Started", runId: first._tag === "Started" ? first.runId : "?" })
      expect(await h.run(Effect.flatMap(WorkQueue.WorkQueue, (q) => q.depth("fit")))).toMatchObject({ visible: 5 })
    })
  })
})
