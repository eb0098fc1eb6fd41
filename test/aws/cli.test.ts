/**
 * The CLI's aws target. On the emulators: the built `phs` runs as a child process with the
 * deployment's `PHS_*` environment (endpoint overrides included), while this process plays
 * AWS around it: when the CLI's manifest lands in S3 the splitter is invoked with the
 * EventBridge event, and the fit, slow and catalog queues are drained through their
 * handlers (there is no EventBridge emulator). Off the emulators: the watch's stall timeout
 * and refusal detection with `TestClock`, the deployment's resolution, and the Athena engine
 * on a fake Athena.
 */
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3"
import { it as effectIt } from "@effect/vitest"
import { Errors, Fitter, RunTable } from "@phs/core"
import { AthenaQuery, SplitterHandler } from "@phs/runtime-lambda"
import { Effect, Exit, Fiber, Option, Schedule, TestClock } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeChunks, makeRun } from "../../packages/core/test/conformance/RunTable.js"
import * as AthenaSql from "../../packages/cli/src/aws/AthenaSql.js"
import * as Deployment from "../../packages/cli/src/aws/Deployment.js"
import * as Watch from "../../packages/cli/src/aws/Watch.js"
import * as Format from "../../packages/cli/src/query/Format.js"
import { fakeAthena } from "../../packages/runtime-lambda/test/fakes.js"
import { cubeData, cubeFits } from "../support/cubes.js"
import { phs, phsAsync, tempDir } from "../support/cli.js"
import { type Deployment as Deployed, deploy, flow, getRun, type Handlers, handlers, over, upload, type Upload, withDeployment, withHandlers, eventually, bucketKeys, drainAll, resumeOnAws } from "./deployment.js"
import { startSqs } from "./emulators.js"
import { context, drain, invokeAsync, objectCreated } from "./lambda.js"
import { describeEmulated, emulated, endpoints } from "./suite.js"

let sqs: Awaited<ReturnType<typeof startSqs>>

beforeAll(async () => {
  if (!emulated) return
  sqs = await startSqs()
})

afterAll(async () => {
  if (!emulated) return
  await sqs.stop()
})

/** 7 × 5 spectra (two blank) in chunks of 8: five chunks, the last of 3. */
const small: Upload = { survey: "grs", cube: { nx: 7, ny: 5, seed: 11, blankPixels: [4, 20] } }

const exactCounters = { status: "COMPLETED", nSpectra: 35, spectraDone: 35, jobsTotal: 5, jobsCompleted: 5, jobsFailed: 0, spectraDeferred: 0, slowPending: 0 }

describeEmulated("phs --target aws on the emulators", () => {
  it("pipeline: uploads the cube, puts the manifest under the run id the splitter derives, and follows the run to COMPLETED; runs and status read it", async () => {
    await withDeployment(sqs, async (d) => {
      const dir = tempDir()
      const cube = path.join(dir, "field.fits")
      fs.writeFileSync(cube, cubeFits(small.cube))
      const args = ["pipeline", cube, "--target", "aws", "--survey", "grs", "--chunk-size", "8", "--param", "beta=3.5"]
      const cli = phsAsync(args, { env: d.env })
      const manifestKey = await eventually("the manifest", async () => (await bucketKeys(d, "manifests/"))[0])
      const cubes = await bucketKeys(d, "cubes/")
      expect(cubes).toEqual([expect.stringMatching(/^cubes\/grs-[0-9a-f]{16}\.fits$/)])
      const stored = await d.s3.send(new GetObjectCommand({ Bucket: d.config.bucket, Key: cubes[0] }))
      expect(Buffer.from(await stored.Body!.transformToByteArray()).equals(fs.readFileSync(cube))).toBe(true)

      const f = await withHandlers(d, {}, (h) => flow(d, h, manifestKey))
      expect(f.started._tag).toBe("Started")
      const runId = (f.started as { runId: string }).runId
      // The CLI named the manifest after the run id it predicted: the splitter's.
      expect(manifestKey).toBe(`manifests/${runId}.json`)
      const manifest = JSON.parse(new TextDecoder().decode(await (await d.s3.send(new GetObjectCommand({ Bucket: d.config.bucket, Key: manifestKey }))).Body!.transformToByteArray()))
      expect(manifest).toEqual({ cube_key: cubes[0], survey: "grs", params: { beta: 3.5 }, chunk_size: 8, cube_name: "field.fits" })

      const r = await cli.done
      expect(r.stderr).toContain(`cube uploaded to s3://${d.config.bucket}/${cubes[0]}`)
      expect(r.stderr).toMatch(/ 35\/35 spectra .* completed/)
      expect(r.code).toBe(0)
      expect(r.stdout).toContain(`run ${runId}: COMPLETED`)
      expect(r.stdout).toContain("35 of 35 spectra")
      expect(r.stdout).toContain(`results: s3://${d.config.bucket}/decompositions/survey=grs/`)
      expect(r.stdout).toContain(`phs query --target aws "SELECT n_components, count(*) FROM decompositions WHERE survey = 'grs' AND run_id = '${runId}'`)

      const runs = await phs(["runs", "--target", "aws", "--json"], { env: d.env })
      expect(runs.code).toBe(0)
      expect(JSON.parse(runs.stdout)).toEqual([expect.objectContaining({ runId, survey: "grs", cubeName: "field.fits", ...exactCounters })])
      const table = await phs(["runs", "--target", "aws"], { env: d.env })
      expect(table.stdout).toMatch(new RegExp(`${runId}\\s+grs\\s+field\\.fits\\s+\\S+ \\S+\\s+COMPLETED\\s+35\\s+35\\s+0\\s+.*\\bbeta=3.5\\b`))

      const status = await phs(["status", runId.slice(0, 8), "--target", "aws", "--json"], { env: d.env })
      expect(status.code).toBe(0)
      const s = JSON.parse(status.stdout)
      expect(s.run).toMatchObject({ runId, ...exactCounters })
      expect(s.chunks.map((c: RunTable.ChunkRecord) => [c.start, c.count, c.status])).toEqual([
        [0, 8, "COMPLETED"],
        [8, 8, "COMPLETED"],
        [16, 8, "COMPLETED"],
        [24, 8, "COMPLETED"],
        [32, 3, "COMPLETED"]
      ])
      expect(s.deadLetters).toEqual([])
      const text = await phs(["status", runId, "--target", "aws"], { env: d.env })
      expect(text.stdout).toContain(`run ${runId}  survey grs  COMPLETED`)
      expect(text.stdout).toContain("fit     5 completed, 0 in progress, 0 pending, 0 failed; 35/35 spectra")
      expect(text.stdout).toContain("catalog done")

      // The same cube and parameters again: the run exists, nothing is uploaded or started.
      const again = await phs(args, { env: d.env })
      expect(again.code).toBe(0)
      expect(again.stdout).toContain(`run ${runId}: already completed`)
      expect(again.stdout).toContain("35 of 35 spectra")
      expect(await bucketKeys(d, "manifests/")).toEqual([manifestKey])
    })
  })

  it("resume: the run's dead letters go back on the fit queue, its failed chunk is reopened, and the run completes", async () => {
    await withDeployment(sqs, async (d) => {
      const first = cubeData(small.cube)[0]
      const brokenChunk0 = over(Fitter.Fitter, (fitter) => ({
        ...fitter,
        decomposeBatch: (spectra, n, params, options) =>
          spectra[0] === first ? Effect.fail(new Errors.FitError({ reason: "native pool lost (injected)", retryable: true })) : fitter.decomposeBatch(spectra, n, params, options)
      }))
      const runId = await withHandlers(d, { wraps: [brokenChunk0], retry: Schedule.stop }, async (h) => {
        const f = await flow(d, h, await upload(d, small))
        return (f.started as { runId: string }).runId
      })
      const failed = await phs(["status", runId, "--target", "aws"], { env: d.env })
      expect(failed.stdout).toContain(`run ${runId}  survey grs  FAILED`)
      expect(failed.stdout).toContain(`dead letters (1); phs resume ${runId} --target aws puts them back:`)

      await resumeOnAws(d, runId, async (r, h) => {
        expect(r.stderr).toContain("1 dead-lettered message(s) back on their queues, 1 chunk(s) reopened")
        expect(r.code).toBe(0)
        expect(r.stdout).toContain(`run ${runId}: COMPLETED`)
        expect(await h.run(getRun(runId))).toMatchObject(exactCounters)
      })
      const after = JSON.parse((await phs(["status", runId, "--target", "aws", "--json"], { env: d.env })).stdout)
      expect(after.deadLetters).toEqual([])
    })
  })

  it("resume: a run stuck in SPLITTING gets its manifest put again, which the splitter resumes under the same run id", async () => {
    await withDeployment(sqs, async (d) => {
      // The splitter dies after registering the run, before queueing its chunks.
      const dies = over(RunTable.RunTable, (t) => ({ ...t, transition: () => Effect.die(new Error("container lost (injected)")) }))
      const key = await upload(d, small)
      const runId = await withHandlers(d, { wraps: [dies], retry: Schedule.stop }, async (h) => {
        await expect(invokeAsync(() => h.splitter(objectCreated(d.config.bucket, key)))).rejects.toThrow()
        const [run] = await h.run(Effect.flatMap(RunTable.RunTable, (t) => t.listRuns()))
        expect(run.status).toBe("SPLITTING")
        return run.runId
      })
      await withHandlers(d, {}, async (h) => {
        const cli = phsAsync(["resume", runId, "--target", "aws"], { env: d.env })
        const again = await eventually("the manifest put again", async () => (await bucketKeys(d, "manifests/")).find((k) => k === `manifests/${runId}.json`))
        const started = await h.splitter(objectCreated(d.config.bucket, again))
        expect(started).toMatchObject({ _tag: "Started", runId })
        await drainAll(d, h)
        const r = await cli.done
        expect(r.stderr).toContain(`run ${runId} was still splitting: manifest s3://${d.config.bucket}/manifests/${runId}.json put again`)
        expect(r.code).toBe(0)
        expect(await h.run(getRun(runId))).toMatchObject(exactCounters)
      })
    })
  })
})

describe("phs --target aws without a deployment", () => {
  it("names what is missing and how to give it: one line, exit 2", async () => {
    const env = { PHS_BUCKET: "", PHS_RUNS_TABLE: "", AWS_REGION: "us-east-1" }
    const r = await phs(["runs", "--target", "aws"], { env })
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split("\n")).toEqual([
      "phs: the aws target needs the run table (PhsState RunsTableName): pass --aws-config FILE (written by cdk deploy --outputs-file FILE) or set PHS_RUNS_TABLE (see docs/deploying.md)"
    ])
    const dir = tempDir()
    const outputs = path.join(dir, "outputs.json")
    fs.writeFileSync(outputs, JSON.stringify({ OtherStorage: { BucketName: "b" } }))
    const wrong = await phs(["status", "r", "--target", "aws", "--aws-config", outputs], { env })
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toMatch(/has no stack of the deployment phs \(looked for PhsStorage, PhsState, PhsQueues, PhsCatalog; it has OtherStorage\): pass --stack NAME/)
  })
})

describe("the deployment's resources", () => {
  const outputs = {
    PhsStorage: { BucketName: "phs-data", AccessLogBucketName: "logs" },
    PhsState: { RunsTableName: "runs-t", JournalTableName: "journal-t" },
    PhsQueues: {
      FitQueueUrl: "https://sqs.eu-west-1.amazonaws.com/1/fit",
      FitDeadLetterQueueUrl: "https://sqs.eu-west-1.amazonaws.com/1/fit-dlq",
      SlowQueueUrl: "https://sqs.eu-west-1.amazonaws.com/1/slow",
      SlowDeadLetterQueueUrl: "https://sqs.eu-west-1.amazonaws.com/1/slow-dlq",
      CatalogQueueUrl: "https://sqs.eu-west-1.amazonaws.com/1/catalog"
    },
    PhsCatalog: { WorkGroupName: "phs" },
    OtherState: { RunsTableName: "other" }
  }
  const file = path.join(tempDir(), "outputs.json")
  fs.writeFileSync(file, JSON.stringify(outputs))

  it("come from the cdk outputs file first, the environment for the rest; the region from a queue URL when not set", async () => {
    const d = await Effect.runPromise(
      Deployment.resolve({ stack: "phs", awsConfig: Option.some(file) }, { PHS_RUNS_TABLE: "from-env", PHS_S3_ENDPOINT: "http://127.0.0.1:9" })
    )
    expect(d).toMatchObject({
      bucket: "phs-data",
      runsTable: "runs-t",
      journalTable: "journal-t",
      queues: { fit: { url: outputs.PhsQueues.FitQueueUrl, dlqUrl: outputs.PhsQueues.FitDeadLetterQueueUrl }, slow: { url: outputs.PhsQueues.SlowQueueUrl } },
      catalogQueueUrl: outputs.PhsQueues.CatalogQueueUrl,
      workgroup: "phs",
      athenaOutput: "s3://phs-data/athena-results/",
      aws: { region: "eu-west-1" },
      endpoints: { s3: "http://127.0.0.1:9" }
    })
    const other = await Effect.runPromise(Deployment.resolve({ stack: "other", awsConfig: Option.some(file) }, { AWS_REGION: "us-east-2" }))
    expect(other).toMatchObject({ runsTable: "other", bucket: undefined, queues: undefined, aws: { region: "us-east-2" } })
    expect(other.queuesMissing).toEqual(["PHS_FIT_QUEUE_URL", "PHS_FIT_DLQ_URL", "PHS_SLOW_QUEUE_URL", "PHS_SLOW_DLQ_URL"])
    const env = await Effect.runPromise(Deployment.resolve({ stack: "phs", awsConfig: Option.none() }, { PHS_BUCKET: "b", PHS_RUNS_TABLE: "t", PHS_ATHENA_WORKGROUP: "wg" }))
    expect(env).toMatchObject({ bucket: "b", runsTable: "t", workgroup: "wg", aws: { region: undefined } })
    expect(Deployment.flags({ stack: "phs", awsConfig: Option.none() })).toBe(" --target aws")
    expect(Deployment.flags({ stack: "survey2", awsConfig: Option.some("o.json") })).toBe(" --target aws --stack survey2 --aws-config o.json")
  })
})

describe("phs query --target aws: the Athena engine", () => {
  it("runs the SQL in the workgroup over phspectra and hands back columns and rows, repeated column names included", async () => {
    const fake = fakeAthena({
      states: [{ State: "RUNNING" }, { State: "SUCCEEDED" }],
      pages: [
        {
          ResultSetMetadata: { ColumnInfo: [{ Name: "beta", Label: "beta", Type: "double" }, { Name: "n", Label: "n", Type: "bigint" }, { Name: "n", Label: "n", Type: "varchar" }] },
          Rows: [{ Data: [{ VarCharValue: "beta" }, { VarCharValue: "n" }, { VarCharValue: "n" }] }, { Data: [{ VarCharValue: "3.5" }, { VarCharValue: "35" }, { VarCharValue: "x" }] }]
        },
        { Rows: [{ Data: [{ VarCharValue: "4.0" }, {}, { VarCharValue: "y" }] }] }
      ]
    })
    const engine = AthenaSql.make(AthenaQuery.make(AthenaSql.withUniqueLabels(fake.api), { workgroup: "phs", database: "phspectra", outputLocation: "s3://b/athena-results/", pollInterval: "1 millis" }))
    const result = await Effect.runPromise(engine.run("SELECT beta, n, n FROM decompositions WHERE survey = 'grs'"))
    expect(result).toEqual({ columns: ["beta", "n", "n"], rows: [[3.5, 35, "x"], [4, null, "y"]] })
    expect(fake.calls[0]).toBe("start phs phspectra s3://b/athena-results/")
    expect(Format.render(result, "json")).toBe('[\n  {"beta":3.5,"n":35,"n_2":"x"},\n  {"beta":4,"n":null,"n_2":"y"}\n]')
  })

  it("a query Athena refuses is the user's error (exit 2); others are storage errors", async () => {
    const refused = fakeAthena({ states: [{ State: "FAILED", StateChangeReason: "line 1:8: Column 'bogus' cannot be resolved", AthenaError: { ErrorCategory: 2 } }] })
    const engine = AthenaSql.make(AthenaQuery.make(refused.api, { workgroup: "phs", pollInterval: "1 millis" }))
    const e = await Effect.runPromise(Effect.flip(engine.run("SELECT bogus FROM decompositions")))
    expect(e).toBeInstanceOf(Errors.InvalidInput)
    expect(e.message).toContain("Column 'bogus' cannot be resolved")
  })
})

/**
 * Athena's JSON protocol, played over HTTP on loopback for a `phs` child process: each query
 * runs, then ends as `end` says; the requests are kept.
 */
const athenaOverHttp = async (end: { readonly State: string; readonly StateChangeReason?: string; readonly AthenaError?: { readonly ErrorCategory: number } }, results: unknown) => {
  const requests: Array<{ readonly target: string; readonly body: Record<string, unknown> }> = []
  const server = http.createServer((req, res) => {
    let text = ""
    req.on("data", (d) => (text += d))
    req.on("end", () => {
      const target = String(req.headers["x-amz-target"] ?? "").replace(/^AmazonAthena\./, "")
      requests.push({ target, body: JSON.parse(text || "{}") })
      const reply: Record<string, unknown> =
        target === "StartQueryExecution"
          ? { QueryExecutionId: "q-1" }
          : target === "GetQueryExecution"
            ? { QueryExecution: { QueryExecutionId: "q-1", Status: requests.filter((r) => r.target === target).length < 2 ? { State: "RUNNING" } : end } }
            : target === "GetQueryResults"
              ? results
              : {}
      res.writeHead(200, { "content-type": "application/x-amz-json-1.1" }).end(JSON.stringify(reply))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as { port: number }
  const env = {
    PHS_AWS_ENDPOINT: `http://127.0.0.1:${port}`,
    PHS_ATHENA_WORKGROUP: "survey-wg",
    PHS_BUCKET: "data-bucket",
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test"
  }
  return { requests, env, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}

describe("phs query --target aws: the command through the aws target's ResultQuery", () => {
  const page = {
    ResultSet: {
      ResultSetMetadata: { ColumnInfo: [{ Name: "survey", Label: "survey", Type: "varchar" }, { Name: "n", Label: "n", Type: "bigint" }] },
      Rows: [{ Data: [{ VarCharValue: "survey" }, { VarCharValue: "n" }] }, { Data: [{ VarCharValue: "grs" }, { VarCharValue: "35" }] }]
    }
  }

  it("runs the SQL on Athena in the deployment's workgroup and prints its rows; no workdir is needed", async () => {
    const athena = await athenaOverHttp({ State: "SUCCEEDED" }, page)
    try {
      const sql = "SELECT survey, count(*) AS n FROM decompositions WHERE survey = 'grs' GROUP BY 1"
      const r = await phs(["query", sql, "--target", "aws", "--format", "csv", "--workdir", path.join(tempDir(), "nowhere")], { env: athena.env })
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toBe("survey,n\r\ngrs,35\r\n")
      const start = athena.requests.find((q) => q.target === "StartQueryExecution")
      expect(start?.body).toMatchObject({ QueryString: sql, WorkGroup: "survey-wg", QueryExecutionContext: { Database: "phspectra" }, ResultConfiguration: { OutputLocation: "s3://data-bucket/athena-results/" } })
    } finally {
      await athena.close()
    }
  }, 60_000)

  it("a query Athena refuses is one line, exit 2", async () => {
    const athena = await athenaOverHttp({ State: "FAILED", StateChangeReason: "line 1:8: Column 'bogus' cannot be resolved", AthenaError: { ErrorCategory: 2 } }, page)
    try {
      const r = await phs(["query", "SELECT bogus FROM decompositions", "--target", "aws"], { env: athena.env })
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^phs: .*Column 'bogus' cannot be resolved/)])
      expect(r.stdout).toBe("")
    } finally {
      await athena.close()
    }
  }, 60_000)
})

describe("the aws watch", () => {
  const runLayer = RunTable.layerMemory
  const quiet = { tty: false, quiet: true } as const

  effectIt.effect("gives up on a run that shows no progress for 30 minutes, saying what it was doing", () =>
    Effect.gen(function* () {
      const table = yield* RunTable.RunTable
      const run = makeRun({ runId: "grs-stuck" })
      yield* table.createRun(run, makeChunks(run))
      const fiber = yield* Effect.fork(Watch.watch(run.runId, quiet))
      yield* TestClock.adjust("29 minutes")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 minute")
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit)).toBe(true)
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error).toBeInstanceOf(Watch.RunStalled)
      expect(error.message).toBe(
        "run grs-stuck made no progress for 30 min (running, 0/100 spectra, 0/4 chunks done, 0 failed, 0 slow pending); " +
          "it may still finish: phs status grs-stuck --target aws, and phs resume grs-stuck --target aws re-drives it"
      )
    }).pipe(Effect.provide(runLayer))
  )

  effectIt.effect("progress restarts the 30 minutes; the run's end ends the watch", () =>
    Effect.gen(function* () {
      const table = yield* RunTable.RunTable
      const run = makeRun({ runId: "grs-slow" })
      yield* table.createRun(run, makeChunks(run))
      const fiber = yield* Effect.fork(Watch.watch(run.runId, quiet))
      yield* TestClock.adjust("25 minutes")
      yield* table.claimChunk(run.runId, 0, 60_000)
      yield* table.completeChunk(run.runId, 0, { outputKey: "k", spectra: 25, deferred: 0 })
      yield* TestClock.adjust("25 minutes")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* table.transition(run.runId, ["RUNNING"], "FAILED", "1 chunk(s) failed")
      yield* TestClock.adjust("5 seconds")
      const ended = yield* Fiber.join(fiber)
      expect(ended).toMatchObject({ status: "FAILED", spectraDone: 25, reason: "1 chunk(s) failed" })
    }).pipe(Effect.provide(runLayer))
  )

  const expecting = (manifestKey: string, refusedBefore: Option.Option<RunTable.RunRecord> = Option.none()): Watch.Expecting => ({
    manifestKey,
    survey: "grs",
    cubeKey: "cubes/grs.fits",
    chunkSize: 25,
    params: { beta: 3.5, snr_min: 2 } as never,
    refusedBefore
  })

  effectIt.effect("a run the splitter never starts: 30 minutes, then a message pointing at the splitter", () =>
    Effect.gen(function* () {
      const fiber = yield* Effect.fork(Watch.watch("grs-never", { ...quiet, expecting: expecting("manifests/grs-never.json") }))
      yield* TestClock.adjust("30 minutes")
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error.message).toMatch(/^no run grs-never after 30 min: the splitter has not started it from manifests\/grs-never\.json/)
    }).pipe(Effect.provide(runLayer))
  )

  effectIt.effect("a manifest the splitter refuses fails the watch with the splitter's reason; an older refusal does not", () =>
    Effect.gen(function* () {
      const table = yield* RunTable.RunTable
      const key = "manifests/grs-refused.json"
      const invalidId = SplitterHandler.invalidRunId(key)
      const old = makeRun({ runId: invalidId, status: "FAILED", reason: "an old refusal", jobsTotal: 0, nSpectra: 0 })
      yield* table.createRun(old, [])
      const before = yield* table.getRun(invalidId)
      const fiber = yield* Effect.fork(Watch.watch("grs-refused", { ...quiet, expecting: expecting(key, before) }))
      yield* TestClock.adjust("20 seconds")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 second")
      yield* table.transition(invalidId, ["FAILED"], "FAILED", `manifest ${key}: unknown parameter "betta"`)
      yield* TestClock.adjust("5 seconds")
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error).toBeInstanceOf(Errors.RunFailed)
      expect(error.message).toBe(`run ${invalidId} failed: manifest ${key}: unknown parameter "betta"`)
    }).pipe(Effect.provide(runLayer))
  )

  effectIt.effect("a deployment on another code version names the run differently: after a minute, that run is followed", () =>
    Effect.gen(function* () {
      const table = yield* RunTable.RunTable
      const lines: string[] = []
      const fiber = yield* Effect.fork(
        Watch.watch("grs-predicted", { tty: false, quiet: false, write: (t) => void lines.push(t), expecting: expecting("manifests/grs-predicted.json") })
      )
      const theirs = makeRun({ runId: "grs-deployed", codeVersion: "phs-0.0.9+fit-0.0.9", status: "COMPLETED", spectraDone: 100, jobsCompleted: 4 })
      yield* table.createRun(theirs, [])
      yield* TestClock.adjust("30 seconds")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("35 seconds")
      expect(yield* Fiber.join(fiber)).toMatchObject({ runId: "grs-deployed", status: "COMPLETED" })
      expect(lines.join("")).toContain("the deployment named the run grs-deployed, not grs-predicted: it runs code phs-0.0.9+fit-0.0.9")
    }).pipe(Effect.provide(runLayer))
  )

  effectIt.effect("a refit run on another code version: the refit run of the cube is followed, not a newer plain one", () =>
    Effect.gen(function* () {
      const table = yield* RunTable.RunTable
      const fiber = yield* Effect.fork(Watch.watch("grs-predicted", { ...quiet, expecting: { ...expecting("manifests/grs-predicted.json"), refit: "spatial" } }))
      const code = { codeVersion: "phs-0.0.9+fit-0.0.9", status: "COMPLETED" as const, spectraDone: 100, jobsCompleted: 4 }
      yield* table.createRun(makeRun({ runId: "grs-refit", refit: "spatial", createdAt: 1_000, ...code }), [])
      yield* table.createRun(makeRun({ runId: "grs-plain", createdAt: 2_000, ...code }), [])
      yield* TestClock.adjust("65 seconds")
      expect(yield* Fiber.join(fiber)).toMatchObject({ runId: "grs-refit", refit: "spatial" })
    }).pipe(Effect.provide(runLayer))
  )
})
