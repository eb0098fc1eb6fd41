/**
 * `phs runs`, `phs status RUN`, `phs resume RUN`, `phs replay RUN`: the run table and the
 * journal, read and acted on. `runs`, `status` and `resume` also take `--target aws`: the
 * deployment's run table and queues (aws/Runs.ts).
 */
import { Args, Command, Options } from "@effect/cli"
import { Errors, Pipeline, RunTable, WorkQueue } from "@phs/core"
import { Effect, Option } from "effect"
import * as os from "node:os"
import * as Aws from "../aws/Lazy.js"
import * as Local from "../Local.js"
import { line, table, timestamp } from "../Output.js"
import { driveWithProgress, report, reportAt } from "./pipeline.js"
import { findRun, json, targetOptions, workdir } from "./shared.js"
import { replayParts, resumeParts, statusParts } from "./verify.js"

const runId = Args.text({ name: "run" }).pipe(Args.withDescription("run id (a unique prefix will do)"))

export const runs = Command.make(
  "runs",
  {
    workdir,
    json,
    survey: Options.text("survey").pipe(Options.withDescription("only this survey's runs"), Options.optional),
    ...targetOptions
  },
  (o) =>
    Effect.gen(function* () {
      const all =
        o.target === "aws"
          ? yield* (yield* Aws.runs).list(o, o.survey)
          : yield* Effect.flatMap(RunTable.RunTable, (t) => t.listRuns(Option.isSome(o.survey) ? { survey: o.survey.value } : {})).pipe(
              Effect.provide(Local.layer(o.workdir))
            )
      if (o.json) return line(JSON.stringify(all))
      if (all.length === 0) return line(`no runs yet: start one with phs pipeline CUBE.fits${o.target === "aws" ? " --target aws" : ""}`)
      line(
        table(
          ["run", "survey", "created (UTC)", "status", "spectra", "done", "failed chunks", "params"],
          all.map((r) => [r.runId, r.survey, timestamp(r.createdAt), r.status, r.nSpectra, r.spectraDone, r.jobsFailed, paramText(r)])
        )
      )
    })
).pipe(Command.withDescription("list the runs in the workdir (or the aws deployment), newest first"))

const paramText = (r: RunTable.RunRecord) =>
  Object.entries(r.params)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ")

export const status = Command.make("status", { runId, workdir, json, ...targetOptions }, (o) =>
  Effect.gen(function* () {
    if (o.target === "aws") {
      const st = yield* (yield* Aws.runs).status(o, o.runId)
      if (Option.isSome(st.deadLettersUnknown)) process.stderr.write(`phs: note: ${st.deadLettersUnknown.value}\n`)
      return printStatus(st.run, st.chunks, st.deadLetters, o.json, `phs resume ${st.run.runId}${(yield* Aws.deployment).flags(o)} puts them back`)
    }
    return yield* Effect.gen(function* () {
      const run = yield* findRun(o.runId)
      const t = yield* RunTable.RunTable
      const q = yield* WorkQueue.WorkQueue
      const chunks = yield* t.listChunks(run.runId)
      const dead = [...(yield* q.deadLetters("fit")), ...(yield* q.deadLetters("slow"))].filter((d) => d.body.includes(`"runId":"${run.runId}"`))
      printStatus(run, chunks, dead, o.json, `phs redrive ${run.runId} puts them back`)
      yield* statusParts(run.runId, o.json)
    }).pipe(Effect.provide(Local.layer(o.workdir)))
  })
).pipe(Command.withDescription("a run's stages and chunks, with errors and dead letters"))

/** The status of a run: one JSON object, or its stages, notable chunks and dead letters. */
const printStatus = (
  run: RunTable.RunRecord,
  chunks: ReadonlyArray<RunTable.ChunkRecord>,
  dead: ReadonlyArray<WorkQueue.DeadLetter>,
  asJson: boolean,
  putBack: string
): void => {
  if (asJson) return line(JSON.stringify({ run, chunks, deadLetters: dead }))
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
    line(`dead letters (${dead.length}); ${putBack}:`)
    for (const d of dead.slice(0, 20)) line(`  ${d.body.slice(0, 60)}…  after ${d.receiveCount} deliveries: ${d.reason}`)
  }
}

export const resume = Command.make(
  "resume",
  {
    runId,
    workdir,
    json,
    concurrency: Options.integer("concurrency").pipe(Options.withDefault(os.availableParallelism())),
    ...targetOptions
  },
  (o) =>
    Effect.gen(function* () {
      if (o.target === "aws") {
        const done = yield* (yield* Aws.runs).resume(o, o.runId, { quiet: o.json })
        yield* reportAt(done.run, { where: done.where, seconds: done.seconds, asJson: o.json, query: done.query })
        yield* Pipeline.ensureCompleted(done.run)
        return
      }
      const started = Date.now()
      const run = yield* Local.withDriverLock(o.workdir, () =>
        Effect.gen(function* () {
          const found = yield* findRun(o.runId)
          if (found.status === "SPLITTING") yield* Pipeline.start(Pipeline.standard, Pipeline.splitInputOf(found))
          const done = yield* driveWithProgress(found.runId, { concurrency: o.concurrency, quiet: o.json })
          if (done.status === "COMPLETED") yield* resumeParts(done.runId, o.json)
          return done
        })
      ).pipe(Effect.provide(Local.layer(o.workdir)))
      yield* report(run, o.workdir, (Date.now() - started) / 1000, o.json)
      yield* Pipeline.ensureCompleted(run)
    })
).pipe(
  Command.withDescription(
    "carry on a run that was interrupted (crash, kill, power cut); finished steps are not redone. With --target aws: re-drive the run's dead letters (and its split or catalog if stuck), then watch it"
  )
)

export const replay = Command.make("replay", { runId, workdir, json }, (o) =>
  Effect.gen(function* () {
    const run = yield* findRun(o.runId)
    const outcome = yield* Effect.either(Pipeline.replay(Pipeline.standard, run.runId))
    if (outcome._tag === "Right") {
      yield* replayParts(run.runId)
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
