/**
 * A user fan-out stage on the aws handlers, against the emulators: the chunks of
 * examples/fanout-stage's despike stage go through the shared `stage` queue and the stage
 * worker, the catalog queue takes the run from the fit to the stage and from the stage to
 * the catalog, and a redelivered stage message changes nothing.
 */
import { SendMessageCommand } from "@aws-sdk/client-sqs"
import { BlobStore, Journal, Keys, Pipeline, ResultParquet, type ResultSchema, RunTable } from "@phs/core"
import { Effect } from "effect"
import { afterAll, beforeAll, expect, it, vi } from "vitest"
import { despike, neighboursOf, pipeline } from "../../examples/fanout-stage/despike.js"
import { deploy, getRun, handlers, listChunks, runIdOf, tableRows, upload, type Upload } from "./deployment.js"
import { startSqs } from "./emulators.js"
import { context, drain, invokeAsync, objectCreated } from "./lambda.js"
import { describeEmulated, emulated, endpoints } from "./suite.js"

let sqs: Awaited<ReturnType<typeof startSqs>>

beforeAll(async () => {
  if (!emulated) return
  sqs = await startSqs()
  vi.spyOn(console, "log").mockImplementation(() => undefined)
})

afterAll(async () => {
  if (!emulated) return
  vi.restoreAllMocks()
  await sqs.stop()
})

/** 7 × 5 spectra in chunks of 8: five chunks, every neighbourhood across chunk boundaries. */
const small: Upload = { survey: "grs", cube: { nx: 7, ny: 5, seed: 11, blankPixels: [4, 20] } }

type Row = ResultSchema.DecompositionRow
const byPosition = (a: Row, b: Row) => a.y - b.y || a.x - b.x

describeEmulated("a fan-out stage on the aws handlers", () => {
  it("runs per chunk through the stage queue behind the fit, publishes its rows, and ignores a redelivery", async () => {
    const d = await deploy({ ...endpoints(), sqs: sqs.endpoint }, sqs.server)
    const h = handlers(d.config, { pipeline })
    try {
      const key = await upload(d, small)
      const started = await invokeAsync(() => h.splitter(objectCreated(d.config.bucket, key)))
      const runId = runIdOf({ started } as Parameters<typeof runIdOf>[0])
      const fit = await drain(d.sqs, d.queues.fit.url, (e) => h.worker(e, context(900_000)))
      expect(fit.deleted).toBe(5)
      await drain(d.sqs, d.queues.slow.url, (e) => h.slowWorker(e, context(900_000)))
      // the fit is done: the catalog handler starts the stage instead of cataloging
      await drain(d.sqs, d.queues.catalog, (e) => h.catalog(e, context(900_000)))
      expect((await h.run(getRun(runId))).status).toBe("RUNNING")
      const stage = await drain(d.sqs, d.queues.stage.url, (e) => h.stageWorker(e, context(900_000)))
      expect(stage).toMatchObject({ deleted: 5, itemFailures: 0 })
      expect(await h.run(Effect.flatMap(RunTable.RunTable, (t) => t.stageProgress(runId)))).toEqual({ despike: 5 })
      // the stage's last chunk sent the run back to the catalog queue
      await drain(d.sqs, d.queues.catalog, (e) => h.catalog(e, context(900_000)))
      const run = await h.run(getRun(runId))
      expect(run.status).toBe("COMPLETED")

      const fitRows = await h.run(
        Effect.gen(function* () {
          const store = yield* BlobStore.BlobStore
          const rows: Row[] = []
          for (const c of yield* Effect.flatMap(RunTable.RunTable, (t) => t.listChunks(runId)))
            rows.push(...(yield* ResultParquet.decodeRows(yield* store.get(Keys.chunkResult(runId, c.start)))))
          return rows
        })
      )
      const map = new Map(fitRows.map((r) => [`${r.x},${r.y}`, r]))
      const expected = fitRows.map((r) => despike(r, neighboursOf(map, r.x, r.y))).sort(byPosition)
      const published = [...(await h.run(tableRows("grs")))].sort(byPosition)
      expect(published).toEqual(expected)

      // a redelivered stage message: journal answers, nothing is counted or written twice
      const chunk = (await h.run(listChunks(runId)))[2]
      const task = Pipeline.stageTaskOf(pipeline.fanOut[0], run, chunk)
      const entries = (await h.run(Effect.flatMap(Journal.Journal, (j) => j.entries(runId)))).length
      await d.sqs.send(new SendMessageCommand({ QueueUrl: d.queues.stage.url, MessageBody: JSON.stringify(task) }))
      const again = await drain(d.sqs, d.queues.stage.url, (e) => h.stageWorker(e, context(900_000)))
      expect(again.deleted).toBe(1)
      expect(await h.run(Effect.flatMap(RunTable.RunTable, (t) => t.stageProgress(runId)))).toEqual({ despike: 5 })
      expect((await h.run(Effect.flatMap(Journal.Journal, (j) => j.entries(runId)))).length).toBe(entries)
      expect([...(await h.run(tableRows("grs")))].sort(byPosition)).toEqual(expected)
      // replay covers the stage's scopes
      const replayed = await h.run(Pipeline.replay(pipeline, runId))
      expect(replayed.steps).toBe(entries)
    } finally {
      await h.dispose()
      await d.dispose()
    }
  })
})
