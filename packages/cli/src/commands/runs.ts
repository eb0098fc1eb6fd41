/**
 * `phs runs`, `phs status RUN`, `phs resume RUN`, `phs replay RUN`: the run table and the
 * journal, read and acted on.
 */
import { Args, Command, Options } from "@effect/cli"
import { Errors, Pipeline, RunTable, WorkQueue } from "@phs/core"
import { Effect, Option } from "effect"
import * as os from "node:os"
import * as Local from "../Local.js"
import { line, table, timestamp } from "../Output.js"
import { driveWithProgress, report } from "./pipeline.js"
import { findRun, json, workdir } from "./shared.js"

const runId = Args.text({ name: "run" }).pipe(Args.withDescription("run id (a unique prefix will do)"))

export const runs = Command.make(
  "runs",
  {
    workdir,
    json,
    survey: Options.text("survey").pipe(Options.withDescription("only this survey's runs"), Options.optional)
  },
  (o) =>
    Effect.gen(function* () {
      const t = yield* RunTable.RunTable
      const all = yield* t.listRuns(Option.isSome(o.survey) ? { survey: o.survey.value } : {})
      if (o.json) return line(JSON.stringify(all))
      if (all.length === 0) return line("no runs yet: start one with phs pipeline CUBE.fits")
      line(
        table(
          ["run", "survey", "created (UTC)", "status", "spectra", "done", "failed chunks", "params"],
          all.map((r) => [r.runId, r.survey, timestamp(r.createdAt), r.status, r.nSpectra, r.spectraDone, r.jobsFailed, paramText(r)])
        )
      )
    }).pipe(Effect.provide(Local.layer(o.workdir)))
).pipe(Command.withDescription("list the runs in the workdir, newest first"))

const paramText = (r: RunTable.RunRecord) =>
  Object.entries(r.params)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ")

export const status = Command.make("status", { runId, workdir, json }, (o) =>
  Effect.gen(function* () {
    const run = yield* findRun(o.runId)
    const t = yield* RunTable.RunTable
    const q = yield* WorkQueue.WorkQueue
    const chunks = yield* t.listChunks(run.runId)
    const dead = [...(yield* q.deadLetters("fit")), ...(yield* q.deadLetters("slow"))].filter((d) => d.body.includes(`"runId":"${run.runId}"`))
    if (o.json) return line(JSON.stringify({ run, chunks, deadLetters: dead }))
    const count = (s: RunTable.ChunkStatus) => chunks.filter((c) => c.status === s).length
    line(`run ${run.runId}  survey ${run.survey}  ${run.status}${run.reason ? `: ${run.reason}` : ""}`)
    line(`  created ${timestamp(run.createdAt)} UTC, updated ${timestamp(run.updatedAt)} UTC; cube ${run.cubeKey} (${run.nx} × ${run.ny} × ${run.nChannels})`)
    line(`  params ${paramText(run)}; code ${run.codeVersion}`)
    line(`  split   ${run.status === "SPLITTING" ? "in progress" : "done"}: ${run.jobsTotal} chunks of ≤ ${run.chunkSize}`)
    line(`  fit     ${count("COMPLETED")} completed, ${count("IN_PROGRESS")} in progress, ${count("PENDING")} pending, ${count("FAILED")} failed; ${run.spectraDone.toLocaleString("en-US")}/${run.nSpectra.toLocaleString("en-US")} spectra`)
    line(`  slow    ${run.spectraDeferred} deferred, ${run.slowPending} pending`)
    line(`  catalog ${run.status === "COMPLETED" ? "done" : run.status === "CATALOGING" ? "in progress" : "waiting"}`)
    const notable = chunks.filter((c) => c.status !== "COMPLETED" || c.error !== null || c.deferred > 0)
    if (notable.length > 0) {
      line("")
      line(
        table(
          ["chunk", "spectra", "status", "attempts", "deferred", "error"],
          notable.slice(0, 50).map((c) => [c.start, c.count, c.status, c.attempts, c.deferred, c.error ?? ""])
        )
      )
      if (notable.length > 50) line(`  … and ${notable.length - 50} more`)
    }
    if (dead.length > 0) {
      line("")
      line(`dead letters (${dead.length}); phs redrive ${run.runId} puts them back:`)
      for (const d of dead.slice(0, 20)) line(`  ${d.body.slice(0, 60)}…  after ${d.receiveCount} deliveries: ${d.reason}`)
    }
  }).pipe(Effect.provide(Local.layer(o.workdir)))
).pipe(Command.withDescription("a run's stages and chunks, with errors and dead letters"))

export const resume = Command.make(
  "resume",
  {
    runId,
    workdir,
    json,
    concurrency: Options.integer("concurrency").pipe(Options.withDefault(os.availableParallelism()))
  },
  (o) =>
    Effect.gen(function* () {
      const started = Date.now()
      const run = yield* Local.withDriverLock(o.workdir, () =>
        Effect.gen(function* () {
          const found = yield* findRun(o.runId)
          if (found.status === "SPLITTING") yield* Pipeline.start(Pipeline.standard, Pipeline.splitInputOf(found))
          return yield* driveWithProgress(found.runId, { concurrency: o.concurrency, quiet: o.json })
        })
      ).pipe(Effect.provide(Local.layer(o.workdir)))
      yield* report(run, o.workdir, (Date.now() - started) / 1000, o.json)
      yield* Pipeline.ensureCompleted(run)
    })
).pipe(Command.withDescription("carry on a run that was interrupted (crash, kill, power cut); finished steps are not redone"))

export const replay = Command.make("replay", { runId, workdir, json }, (o) =>
  Effect.gen(function* () {
    const run = yield* findRun(o.runId)
    const outcome = yield* Effect.either(Pipeline.replay(Pipeline.standard, run.runId))
    if (outcome._tag === "Right") {
      if (o.json) return line(JSON.stringify({ runId: run.runId, identical: true, steps: outcome.right.steps }))
      return line(`run ${run.runId}: identical (${outcome.right.steps} steps replayed from the journal)`)
    }
    const e = outcome.left
    if (!(e instanceof Errors.NondeterminismError)) return yield* Effect.fail(e)
    if (o.json) line(JSON.stringify({ runId: run.runId, identical: false, stage: e.stage, scope: e.scope, step: e.step, seq: e.seq, reason: e.reason }))
    else line(`run ${run.runId}: divergent at ${e.stage}/${e.scope} step #${e.seq} (${e.step}): ${e.reason}`)
    return yield* Effect.fail(new Errors.RunFailed({ runId: run.runId, reason: "replay diverged" }))
  }).pipe(Effect.provide(Local.layer(o.workdir)))
).pipe(Command.withDescription("re-execute a finished run against its journal and report identical or divergent"))

export const redrive = Command.make("redrive", { runId, workdir, json }, (o) =>
  Effect.gen(function* () {
    const run = yield* findRun(o.runId)
    const q = yield* WorkQueue.WorkQueue
    const t = yield* RunTable.RunTable
    const mine = (body: string) => body.includes(`"runId":"${run.runId}"`)
    const moved = (yield* q.redrive("fit", mine)) + (yield* q.redrive("slow", mine))
    // Chunks failed only because their message died can run again; the run is live again.
    const reopened = moved > 0 ? (yield* t.reopenFailed(run.runId)).reopened : 0
    if (o.json) return line(JSON.stringify({ runId: run.runId, redriven: moved, reopenedChunks: reopened }))
    line(moved === 0 ? `run ${run.runId}: no dead letters` : `run ${run.runId}: ${moved} message(s) back on their queues, ${reopened} chunk(s) reopened; continue with phs resume ${run.runId}`)
  }).pipe(Effect.provide(Local.layer(o.workdir)))
).pipe(Command.withDescription("put a run's dead-lettered messages back on their queues"))
