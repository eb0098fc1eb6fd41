/**
 * `phs pipeline CUBE --refit spatial --target aws` on the emulators (docs/fan-out-stages.md):
 * the CLI runs as a child process while this process plays AWS around it, with handlers
 * built as the image builds them (no pipeline of the test's: each run's own, composed from
 * the refit mode its record carries). The refit's passes (`refit`, `refit-2`, `refit-3`) go
 * through the deployment's one stage queue behind the fit; the published table is the
 * local target's byte for byte; replay finds it identical; a plain run in the same
 * deployment sends nothing to the stage queue; a crash mid-refit and a redelivered stage
 * message change nothing.
 */
import { GetObjectCommand } from "@aws-sdk/client-s3"
import { SendMessageCommand } from "@aws-sdk/client-sqs"
import { BlobStore, Journal, Keys, Pipeline, RunTable } from "@phs/core"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import * as Watch from "../../packages/cli/src/aws/Watch.js"
import * as Progress from "../../packages/cli/src/Progress.js"
import { phs, phsAsync, tempDir } from "../support/cli.js"
import { bucketKeys, type Deployment, drainAll, eventually, getRun, type Handlers, listChunks, over, tableRows, type Wrap, withDeployment, withHandlers } from "./deployment.js"
import { startSqs } from "./emulators.js"
import { drain, type DrainStats, invokeAsync, objectCreated } from "./lambda.js"
import { describeEmulated, emulated } from "./suite.js"

const SAMPLE = path.resolve("examples/grs-5x5.fits")
/** 25 spectra in chunks of 10: three chunks, every refit neighbourhood across a chunk boundary somewhere. */
const args = (survey = "grs") => [SAMPLE, "--survey", survey, "--chunk-size", "10"]
const REFIT_STAGES = ["refit", "refit-2", "refit-3"]
const PUBLISHED = "decompositions/survey=grs/"

let sqs: Awaited<ReturnType<typeof startSqs>>
let dir = ""
/** The local target's published files of the same cube and parameters: key → bytes. */
let local: Map<string, Buffer>
let localRunId = ""

/** Every file under `root`, by its key relative to it. */
const filesUnder = (root: string, prefix: string): Map<string, Buffer> => {
  const out = new Map<string, Buffer>()
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const key = `${rel}${e.name}`
      if (e.name.startsWith(".")) continue
      if (e.isDirectory()) walk(`${key}/`)
      else out.set(key, fs.readFileSync(path.join(root, key)))
    }
  }
  walk(prefix)
  return out
}

const objectBytes = async (d: Deployment, key: string): Promise<Buffer> =>
  Buffer.from(await (await d.s3.send(new GetObjectCommand({ Bucket: d.config.bucket, Key: key }))).Body!.transformToByteArray())

/** The bucket's published files: key → bytes. */
const published = async (d: Deployment): Promise<Map<string, Buffer>> => {
  const out = new Map<string, Buffer>()
  for (const key of (await bucketKeys(d, PUBLISHED)).sort()) out.set(key, await objectBytes(d, key))
  return out
}

beforeAll(async () => {
  if (!emulated) return
  sqs = await startSqs()
  dir = tempDir("phs-aws-refit-")
  // The local reference: the same cube, parameters and chunks in a workdir.
  const workdir = path.join(dir, "local")
  const ref = await phs(["pipeline", ...args(), "--refit", "spatial", "--json", "--workdir", workdir])
  expect(ref.code, ref.stderr).toBe(0)
  localRunId = (JSON.parse(ref.stdout) as { runId: string }).runId
  local = filesUnder(path.join(workdir, "blobs"), PUBLISHED)
  expect(local.size).toBeGreaterThan(0)
}, 300_000)

afterAll(async () => {
  if (emulated) await sqs.stop()
})

interface Driven {
  readonly runId: string
  /** Each drain of the stage queue, in order. */
  readonly stage: ReadonlyArray<DrainStats>
}

/**
 * What AWS does for a run whose manifest was just put: the splitter, then the fit, slow,
 * catalog and stage queues drained through their handlers until the run ends.
 */
const driveRun = async (d: Deployment, h: Handlers, manifestKey: string, stageWorker = h.stageWorker): Promise<Driven> => {
  const started = await invokeAsync(() => h.splitter(objectCreated(d.config.bucket, manifestKey)))
  if (started._tag !== "Started") throw new Error(`the splitter did not start a run: ${JSON.stringify(started)}`)
  const stage: DrainStats[] = []
  for (let round = 0; round < 10; round++) {
    await drainAll(d, h)
    const status = (await h.run(getRun(started.runId))).status
    if (status === "COMPLETED" || status === "FAILED") return { runId: started.runId, stage }
    stage.push(await drain(d.sqs, d.queues.stage.url, (e) => stageWorker(e)))
  }
  throw new Error(`run ${started.runId} did not end`)
}

/** `phs pipeline ARGS… --target aws` with this process playing AWS around it. */
const pipelineOnAws = async (d: Deployment, h: Handlers, cliArgs: ReadonlyArray<string>, stageWorker?: Handlers["stageWorker"]) => {
  const before = new Set(await bucketKeys(d, "manifests/"))
  const cli = phsAsync(["pipeline", ...cliArgs, "--target", "aws"], { env: d.env })
  let exited: string | undefined
  void cli.done.then((r) => (exited = `phs exited ${r.code} before putting its manifest: ${r.stderr}`))
  const key = await eventually("the manifest", async () => {
    const found = (await bucketKeys(d, "manifests/")).find((k) => !before.has(k))
    if (found === undefined && exited !== undefined) throw new Error(exited)
    return found
  })
  const driven = await driveRun(d, h, key, stageWorker)
  const result = await cli.done
  expect(result.code, result.stderr).toBe(0)
  return { ...driven, cli: result }
}

const stageProgress = (h: Handlers, runId: string) => h.run(Effect.flatMap(RunTable.RunTable, (t) => t.stageProgress(runId)))
const journalEntries = async (h: Handlers, runId: string) => (await h.run(Effect.flatMap(Journal.Journal, (j) => j.entries(runId)))).length

describeEmulated("phs pipeline --refit spatial --target aws", () => {
  it("runs the refit's passes through the stage queue, publishes the local target's table byte for byte, replays identical; a plain run in the same deployment does not refit", async () => {
    await withDeployment(sqs, async (d) => {
      await withHandlers(d, {}, async (h) => {
        const refit = await pipelineOnAws(d, h, [...args(), "--refit", "spatial"])
        expect(refit.runId).toBe(localRunId)
        const run = await h.run(getRun(refit.runId))
        expect(run).toMatchObject({ status: "COMPLETED", refit: "spatial", jobsTotal: 3, nSpectra: 25 })
        // one pass per drain of the stage queue, each a message per chunk, none failed
        expect(refit.stage.map((s) => [s.deleted, s.itemFailures, s.crashed])).toEqual(REFIT_STAGES.map(() => [3, 0, 0]))
        expect(refit.stage.map((s) => new Set(s.bodies.map((b) => (JSON.parse(b) as { stage: string }).stage)))).toEqual(REFIT_STAGES.map((s) => new Set([s])))
        expect(await stageProgress(h, refit.runId)).toEqual(Object.fromEntries(REFIT_STAGES.map((s) => [s, 3])))

        // the published table: the refitted one, with its refit column, byte for byte the local target's
        const rows = await h.run(tableRows("grs"))
        expect(rows).toHaveLength(25)
        expect(rows.some((r) => typeof r.refit === "string")).toBe(true)
        const there = await published(d)
        expect([...there.keys()].sort()).toEqual([...local.keys()].sort())
        for (const [key, bytes] of there) expect(bytes.equals(local.get(key)!), key).toBe(true)

        // replay covers every step, the refit stages' included, and finds it identical
        const entries = await journalEntries(h, refit.runId)
        expect((await h.run(Pipeline.replay(Pipeline.pipelineFor("spatial"), refit.runId))).steps).toBe(entries)

        // the aws watch draws the refit stages' progress (on a line wide enough to hold it), and status lists them
        const lines: string[] = []
        const display = Progress.makeDisplay({ tty: false, quiet: false, width: () => 200, write: (t) => void lines.push(t) })
        await h.run(Watch.watch(refit.runId, { tty: false, quiet: false, display }))
        expect(lines.join("")).toMatch(/ refit 3\/3 {2}refit-2 3\/3 {2}refit-3 3\/3/)
        const status = await phs(["status", refit.runId, "--target", "aws"], { env: d.env })
        expect(status.code, status.stderr).toBe(0)
        expect(status.stdout).toContain("; refit spatial;")
        for (const s of REFIT_STAGES) expect(status.stdout).toContain(`  ${s.padEnd(7)} 3/3 chunks done`)

        // the same deployment, a plain run of the same cube: no stage message, no refit column set
        const plain = await pipelineOnAws(d, h, args("plain"))
        expect(plain.runId).not.toBe(refit.runId)
        expect((await h.run(getRun(plain.runId))).refit).toBeUndefined()
        expect(plain.stage).toEqual([])
        expect(await stageProgress(h, plain.runId)).toEqual({})
        const plainRows = await h.run(tableRows("plain"))
        expect(plainRows).toHaveLength(25)
        expect(plainRows.every((r) => r.refit === null || r.refit === undefined)).toBe(true)
      })
    })
  }, 300_000)

  it("a crash mid-pass and a redelivered stage message change nothing: the same table as the local target's", async () => {
    await withDeployment(sqs, async (d) => {
      // pass 1 dies storing chunk 10's rows; pass 2 dies after storing chunk 20's, before counting it;
      // pass 3's invocation on chunk 0 does its work, then dies before SQS deletes the message
      let died = { write: 0, count: 0, ack: 0 }
      const crashes: ReadonlyArray<Wrap> = [
        over(BlobStore.BlobStore, (s) => ({
          ...s,
          put: (key, bytes) =>
            key.endsWith(`/stage=refit/${Keys.chunkName(10)}.parquet`) && died.write === 0
              ? Effect.sync(() => (died = { ...died, write: 1 })).pipe(Effect.zipRight(Effect.die(new Error("stage worker killed mid-write"))))
              : s.put(key, bytes)
        })),
        over(RunTable.RunTable, (t) => ({
          ...t,
          completeStageChunk: (runId, stage, start) =>
            stage === "refit-2" && start === 20 && died.count === 0
              ? Effect.sync(() => (died = { ...died, count: 1 })).pipe(Effect.zipRight(Effect.die(new Error("stage worker killed before the count"))))
              : t.completeStageChunk(runId, stage, start)
        }))
      ]
      await withHandlers(d, { wraps: crashes }, async (h) => {
        const dying: Handlers["stageWorker"] = async (event) => {
          const out = await h.stageWorker(event)
          const task = JSON.parse(event.Records[0].body) as { stage: string; start: number }
          if (task.stage === "refit-3" && task.start === 0 && died.ack === 0) {
            died = { ...died, ack: 1 }
            throw new Error("stage worker killed before the ack")
          }
          return out
        }
        const r = await pipelineOnAws(d, h, [...args(), "--refit", "spatial"], dying)
        expect(died).toEqual({ write: 1, count: 1, ack: 1 })
        // each pass: one delivery more than its chunks, all three ending deleted
        expect(r.stage.map((s) => [s.bodies.length, s.deleted])).toEqual(REFIT_STAGES.map(() => [4, 3]))
        expect(r.stage[2].crashed).toBe(1)
        expect(await h.run(getRun(r.runId))).toMatchObject({ status: "COMPLETED", refit: "spatial" })
        expect(await stageProgress(h, r.runId)).toEqual(Object.fromEntries(REFIT_STAGES.map((s) => [s, 3])))
        const there = await published(d)
        expect([...there.keys()].sort()).toEqual([...local.keys()].sort())
        for (const [key, bytes] of there) expect(bytes.equals(local.get(key)!), key).toBe(true)

        // a redelivered message of the second pass: the journal answers, nothing counted or written twice
        const run = await h.run(getRun(r.runId))
        const chunk = (await h.run(listChunks(r.runId)))[1]
        const stage = Pipeline.pipelineFor("spatial").fanOut[1]
        const entries = await journalEntries(h, r.runId)
        await d.sqs.send(new SendMessageCommand({ QueueUrl: d.queues.stage.url, MessageBody: JSON.stringify(Pipeline.stageTaskOf(stage, run, chunk)) }))
        const again = await drain(d.sqs, d.queues.stage.url, (e) => h.stageWorker(e))
        expect(again).toMatchObject({ deleted: 1, itemFailures: 0, crashed: 0 })
        await drainAll(d, h)
        expect(await journalEntries(h, r.runId)).toBe(entries)
        expect(await stageProgress(h, r.runId)).toEqual(Object.fromEntries(REFIT_STAGES.map((s) => [s, 3])))
        const after = await published(d)
        for (const [key, bytes] of after) expect(bytes.equals(local.get(key)!), key).toBe(true)
        expect((await h.run(Pipeline.replay(Pipeline.pipelineFor("spatial"), r.runId))).steps).toBe(entries)
      })
    })
  }, 300_000)
})
