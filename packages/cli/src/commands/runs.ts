/**
 * `phs runs`, `phs status RUN`, `phs resume RUN`, `phs redrive RUN`, `phs replay RUN`,
 * `phs rm RUN`: the run table, the queues and the journal, read and acted on; written once
 * for every target (`replay` and `rm` need the workdir's journal: local only).
 */
import { Args, Command, Options } from "@effect/cli"
import { BlobStore, Errors, Keys, Pipeline, RunTable, Wcs, type WorkQueue, WorldColumns } from "@phs/core"
import { LocalRun, Sqlite } from "@phs/runtime-local"
import { Effect, Either, Option } from "effect"
import * as readline from "node:readline/promises"
import { line, note, table, timestamp } from "../Output.js"
import * as LocalTarget from "../target/LocalTarget.js"
import * as Target from "../target/Target.js"
import { driveAndReport, report } from "./pipeline.js"
import { checkConcurrency, findRun, json, onTarget, targetOptions, workdir } from "./shared.js"
import { replayParts, resumeParts, statusParts } from "./verify.js"

const runId = Args.text({ name: "run" }).pipe(Args.withDescription("run id (a unique prefix will do)"))

export const runs = Command.make(
  "runs",
  {
    json,
    survey: Options.text("survey").pipe(Options.withDescription("only this survey's runs"), Options.optional),
    ...targetOptions
  },
  (o) =>
    onTarget(o, "read")(
      Effect.gen(function* () {
        const target = yield* Target.Target
        const all = yield* Effect.flatMap(RunTable.RunTable, (t) => t.listRuns(Option.isSome(o.survey) ? { survey: o.survey.value } : {}))
        if (o.json) return line(JSON.stringify(all))
        if (all.length === 0) return line(`no runs yet: start one with phs pipeline CUBE.fits${target.flags}`)
        line(
          table(
            ["run", "survey", "cube", "created (UTC)", "status", "spectra", "done", "failed chunks", "params"],
            all.map((r) => [r.runId, r.survey, RunTable.cubeNameOf(r), timestamp(r.createdAt), r.status, r.nSpectra, r.spectraDone, r.jobsFailed, paramText(r)])
          )
        )
        if (Option.isSome(o.survey)) {
          const latest = latestByCube(all.filter((r) => !r.runId.startsWith("invalid-")))
          const done = latest.filter((c) => c.run.status === "COMPLETED").length
          const spectra = latest.reduce((a, c) => a + c.run.spectraDone, 0)
          const total = latest.reduce((a, c) => a + c.run.nSpectra, 0)
          line(
            `survey ${o.survey.value}: ${latest.length} cube(s); the newest run of ${done} of them completed; ${spectra.toLocaleString("en-US")}/${total.toLocaleString("en-US")} spectra; ` +
              `each cube's: phs status --survey ${o.survey.value}${target.flags}`
          )
        }
      })
    ).pipe(
      // No workdir here: no runs, and none is created.
      Effect.catchIf(
        (e) => o.target === "local" && e._tag === "InvalidInput" && e.message.startsWith("no workdir"),
        () => Effect.sync(() => (o.json ? line("[]") : line(`no runs yet (no workdir at ${o.workdir}): start one with phs pipeline CUBE.fits${LocalTarget.workdirFlag(o.workdir)}`)))
      )
    )
).pipe(Command.withDescription("list the runs in the workdir (or the aws deployment), newest first"))

const paramText = (r: RunTable.RunRecord) =>
  Object.entries(r.params)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ")

/** The newest run of each cube of `runs` (newest first, as `listRuns` gives them), with how many older runs the cube has; in the order the cubes were first run. */
export const latestByCube = (runs: ReadonlyArray<RunTable.RunRecord>) => {
  const byCube = new Map<string, { run: RunTable.RunRecord; older: number; first: number }>()
  for (const r of runs) {
    const seen = byCube.get(r.cubeKey)
    if (seen === undefined) byCube.set(r.cubeKey, { run: r, older: 0, first: r.createdAt })
    else byCube.set(r.cubeKey, { ...seen, older: seen.older + 1, first: Math.min(seen.first, r.createdAt) })
  }
  return [...byCube.values()].sort((a, b) => a.first - b.first || (a.run.cubeKey < b.run.cubeKey ? -1 : 1))
}

/** A survey's runs in the run table: none (a refused manifest's `invalid-…` record is not a run of it) is a one-line error. */
const surveyRuns = (survey: string) =>
  Effect.gen(function* () {
    const target = yield* Target.Target
    const all = (yield* Effect.flatMap(RunTable.RunTable, (t) => t.listRuns({ survey }))).filter((r) => !r.runId.startsWith("invalid-"))
    if (all.length === 0) return yield* Effect.fail(new Errors.InvalidInput({ reason: `no runs of survey ${survey} ${target.where}` }))
    return all
  })

/** The cube header not read, in words. */
const unread = (e: Errors.InvalidInput | Errors.StorageError) => `cube header not read: ${e.reason}`

/** The status of a run. */
const runStatus = (runIdPrefix: string, asJson: boolean) =>
  Effect.gen(function* () {
    const target = yield* Target.Target
    const run = yield* findRun(runIdPrefix)
    const chunks = yield* Effect.flatMap(RunTable.RunTable, (t) => t.listChunks(run.runId))
    const dead = yield* Target.deadLetters(run.runId)
    const drivenBy = yield* target.drivenBy(run)
    if (Option.isSome(dead.unknown) && !asJson) note(`note: dead letters not read: ${dead.unknown.value}`)
    const putBack = target.name === "aws" ? `phs resume ${run.runId}${target.flags} puts them back` : `phs redrive ${run.runId}${target.flags} puts them back`
    const wcs = yield* Effect.either(WorldColumns.cubeWcsSummary(run.cubeKey, run.hdu))
    const stages = yield* Effect.flatMap(RunTable.RunTable, (t) => t.stageProgress(run.runId))
    printStatus(run, chunks, stages, dead.letters, drivenBy, asJson, putBack, `phs resume ${run.runId}${target.flags}`, wcs)
    yield* statusParts(run.runId, asJson)
  })

/**
 * The status of a survey: per cube its newest run (status, spectra, who drives it, the
 * cube's world coordinates in one line), and the survey's total.
 */
const surveyStatus = (survey: string, asJson: boolean) =>
  Effect.gen(function* () {
    const target = yield* Target.Target
    const all = yield* surveyRuns(survey)
    const cubes = yield* Effect.forEach(latestByCube(all), (c) =>
      Effect.gen(function* () {
        const wcs = yield* Effect.either(WorldColumns.cubeWcsSummary(c.run.cubeKey, c.run.hdu))
        const drivenBy = c.run.status === "COMPLETED" || c.run.status === "FAILED" ? Option.none<string>() : yield* target.drivenBy(c.run)
        return { ...c, wcs, drivenBy }
      })
    )
    const total = cubes.reduce((a, c) => a + c.run.nSpectra, 0)
    const done = cubes.reduce((a, c) => a + c.run.spectraDone, 0)
    const byStatus = new Map<string, number>()
    for (const c of cubes) byStatus.set(c.run.status, (byStatus.get(c.run.status) ?? 0) + 1)
    if (asJson)
      return line(
        JSON.stringify({
          survey,
          runs: all.length,
          nSpectra: total,
          spectraDone: done,
          cubes: cubes.map((c) => ({
            cubeKey: c.run.cubeKey,
            cubeName: RunTable.cubeNameOf(c.run),
            run: c.run,
            olderRuns: c.older,
            drivenBy: Option.getOrNull(c.drivenBy),
            wcs: Either.match(c.wcs, { onRight: (w) => w, onLeft: (e) => ({ celestial: null, spectral: null, problems: [unread(e)] }) })
          }))
        })
      )
    const count = (n: number) => n.toLocaleString("en-US")
    line(
      `survey ${survey}: ${cubes.length} cube(s), ${all.length} run(s); newest run of each cube: ${[...byStatus].map(([st, n]) => `${n} ${st.toLowerCase()}`).join(", ")}; ${count(done)}/${count(total)} spectra`
    )
    line(
      table(
        ["cube", "run", "status", "spectra", "done", "older runs", "world"],
        cubes.map((c) => [
          RunTable.cubeNameOf(c.run),
          c.run.runId,
          c.run.status,
          c.run.nSpectra,
          c.run.spectraDone,
          c.older,
          Either.match(c.wcs, { onRight: (w) => Wcs.statusLine(w).replace(/^world: /, ""), onLeft: (e) => `unknown (${unread(e)})` })
        ])
      )
    )
    for (const c of cubes) {
      if (c.run.status === "FAILED") line(`  run ${c.run.runId} failed${c.run.reason ? `: ${c.run.reason}` : ""}; see phs status ${c.run.runId}${target.flags}`)
      else if (c.run.status !== "COMPLETED" && Option.isNone(c.drivenBy)) line(`  run ${c.run.runId} is not driven: continue with phs resume ${c.run.runId}${target.flags}`)
    }
  })

export const status = Command.make(
  "status",
  {
    runId: Args.text({ name: "run" }).pipe(Args.withDescription("run id (a unique prefix will do); or --survey NAME"), Args.optional),
    survey: Options.text("survey").pipe(Options.withDescription("the status of a survey: each cube's newest run, with its world coordinates"), Options.optional),
    json,
    ...targetOptions
  },
  (o) =>
    Option.isSome(o.runId) === Option.isSome(o.survey)
      ? Effect.fail(new Errors.InvalidInput({ reason: "phs status takes one of RUN or --survey NAME" }))
      : onTarget(o, "read")(Option.isSome(o.survey) ? surveyStatus(o.survey.value, o.json) : runStatus(Option.getOrThrow(o.runId), o.json))
).pipe(Command.withDescription("a run's stages and chunks, with errors and dead letters, and whether anything drives it; or, with --survey, each cube's run"))

/** The status of a run: one JSON object, or its stages, notable chunks and dead letters. */
const printStatus = (
  run: RunTable.RunRecord,
  chunks: ReadonlyArray<RunTable.ChunkRecord>,
  stages: Readonly<Record<string, number>>,
  dead: ReadonlyArray<WorkQueue.DeadLetter>,
  drivenBy: Option.Option<string>,
  asJson: boolean,
  putBack: string,
  resume: string,
  wcs: Either.Either<Wcs.WcsSummary, Errors.InvalidInput | Errors.StorageError>
): void => {
  const finished = run.status === "COMPLETED" || run.status === "FAILED"
  // The cube's header is re-read (a ranged get), so status shows the WCS before the catalog writes `_stage_config.json`.
  if (asJson)
    return line(
      JSON.stringify({
        run,
        chunks,
        stages,
        deadLetters: dead,
        drivenBy: Option.getOrNull(drivenBy),
        wcs: Either.match(wcs, { onRight: (w) => w, onLeft: (e) => ({ celestial: null, spectral: null, problems: [unread(e)] }) })
      })
    )
  const count = (s: RunTable.ChunkStatus) => chunks.filter((c) => c.status === s).length
  line(`run ${run.runId}  survey ${run.survey}  ${run.status}${run.reason ? `: ${run.reason}` : ""}`)
  if (!finished)
    line(Option.match(drivenBy, { onSome: (who) => `  driven by ${who}`, onNone: () => `  not driven: nothing is working on it; continue with ${resume}` }))
  line(`  created ${timestamp(run.createdAt)} UTC, updated ${timestamp(run.updatedAt)} UTC; cube ${run.cubeName === undefined ? run.cubeKey : `${run.cubeName} (${run.cubeKey})`}${run.hdu === undefined ? "" : ` HDU ${run.hdu}`} (${run.nx} × ${run.ny} × ${run.nChannels})`)
  line(`  params ${paramText(run)}${run.refit === undefined || run.refit === "none" ? "" : `; refit ${run.refit}`}; code ${run.codeVersion}`)
  line(`  ${Either.match(wcs, { onRight: Wcs.statusLine, onLeft: (e) => `world: unknown (${unread(e)})` })}`)
  line(`  split   ${run.status === "SPLITTING" ? "in progress" : "done"}: ${run.jobsTotal} chunks of ≤ ${run.chunkSize}`)
  line(
    `  fit     ${count("COMPLETED")} completed, ${count("IN_PROGRESS")} in progress, ${count("PENDING")} pending, ${count("FAILED")} failed; ${run.spectraDone.toLocaleString("en-US")}/${run.nSpectra.toLocaleString("en-US")} spectra`
  )
  line(`  slow    ${run.spectraDeferred} deferred, ${run.slowPending} pending`)
  // fan-out stages (a refit's passes): the run's pipeline's, and any other with chunks done
  for (const name of new Set([...Pipeline.pipelineOfRun(run).fanOut.map((f) => f.name), ...Object.keys(stages)]))
    line(`  ${name.padEnd(7)} ${stages[name] ?? 0}/${run.jobsTotal} chunks done`)
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
    json,
    concurrency: Options.integer("concurrency").pipe(
      Options.withDescription("chunks in flight at once, local target (default: the number of cores + 1)"),
      Options.withDefault(Pipeline.defaultConcurrency())
    ),
    ...targetOptions
  },
  (o) =>
    Effect.gen(function* () {
      yield* checkConcurrency(o.concurrency)
      yield* onTarget(o, "drive")(
        Effect.gen(function* () {
          const target = yield* Target.Target
          const found = yield* findRun(o.runId)
          // The run's cube is checked whatever the run's state: a damaged or replaced one is said at once.
          yield* target.checkCube(found)
          if (found.status === "COMPLETED") {
            // A finished run: its published parts are checked and, where damaged, rebuilt.
            yield* resumeParts(found.runId, o.json)
            return yield* report(found, { seconds: 0, spectra: 0, asJson: o.json, already: true })
          }
          const redriven = yield* Target.redrive(found)
          const notes = [
            ...Option.toArray(redriven.note),
            ...(redriven.redriven > 0 ? [`${redriven.redriven} dead-lettered message(s) back on their queues, ${redriven.reopened} chunk(s) reopened`] : []),
            ...(yield* target.unstick(found))
          ]
          if (!o.json) for (const n of notes) note(n)
          const done = yield* driveAndReport(found.runId, { concurrency: o.concurrency, asJson: o.json })
          if (done.status === "COMPLETED") yield* resumeParts(done.runId, o.json)
          return done
        })
      )
    })
).pipe(
  Command.withDescription(
    "carry on a run that was interrupted (Ctrl-C, crash, kill, power cut): its dead letters go back on their queues, finished steps are not redone; with --target aws the Lambdas do the work and this follows it"
  )
)

export const replay = Command.make("replay", { runId, workdir, json }, (o) =>
  Effect.gen(function* () {
    const run = yield* findRun(o.runId)
    // the pipeline the run was submitted with (its recorded refit mode)
    const outcome = yield* Effect.either(Effect.flatMap(LocalRun.pipelineOf(run), (p) => Pipeline.replay(p, run.runId)))
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
  }).pipe(Effect.provide(LocalTarget.layer(o.workdir, "read")))
).pipe(Command.withDescription("re-execute a finished run against its journal and report identical or divergent"))

/** What `phs redrive` did: the messages it put back and the chunks it reopened, or that there was nothing to do. */
export const redriveText = (runId: string, r: { readonly redriven: number; readonly reopened: number }, flags: string): string => {
  if (r.redriven === 0 && r.reopened === 0) return `run ${runId}: no dead letters and no failed chunks: nothing to redrive`
  const messages = r.redriven === 0 ? "no dead letters" : `${r.redriven} message(s) back on their queues`
  return `run ${runId}: ${messages}, ${r.reopened} chunk(s) reopened; continue with phs resume ${runId}${flags}`
}

export const redrive = Command.make("redrive", { runId, json, ...targetOptions }, (o) =>
  onTarget(o, "read")(
    Effect.gen(function* () {
      const target = yield* Target.Target
      const run = yield* findRun(o.runId)
      // On aws the Lambdas take the messages at once, so the cube is checked first; locally
      // nothing reads it until phs resume, which checks it.
      if (target.name === "aws") yield* target.checkCube(run)
      const r = yield* Target.redrive(run)
      if (o.json) return line(JSON.stringify({ runId: run.runId, redriven: r.redriven, reopenedChunks: r.reopened }))
      if (Option.isSome(r.note)) return yield* Effect.fail(new Errors.InvalidInput({ reason: r.note.value }))
      line(redriveText(run.runId, r, target.flags))
    })
  )
).pipe(Command.withDescription("put a run's dead-lettered messages back on their queues and reopen its failed chunks (phs resume then drives them)"))

/** Asks a yes/no question on the terminal; anything but y/yes is no. */
const confirm = (question: string) =>
  Effect.promise(async () => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr })
    try {
      return /^y(es)?$/i.test((await rl.question(question)).trim())
    } finally {
      rl.close()
    }
  })

export const rm = Command.make(
  "rm",
  {
    runId,
    workdir,
    yes: Options.boolean("yes").pipe(Options.withDescription("remove without asking (needed when stdin is not a terminal)"))
  },
  (o) =>
    Effect.gen(function* () {
      const run = yield* findRun(o.runId)
      if (!o.yes) {
        if (process.stdin.isTTY !== true)
          return yield* Effect.fail(new Errors.InvalidInput({ reason: `phs rm ${run.runId} removes it for good: pass --yes (not asked: stdin is not a terminal)` }))
        const ok = yield* confirm(`remove run ${run.runId} (survey ${run.survey}, ${run.nSpectra.toLocaleString("en-US")} spectra: its results, chunks, journal and records)? [y/N] `)
        if (!ok) return line(`run ${run.runId} kept`)
      }
      const store = yield* BlobStore.BlobStore
      const table = yield* RunTable.RunTable
      const others = (yield* table.listRuns({ limit: 100_000 })).filter((r) => r.runId !== run.runId)
      // Blobs first, records last: an interrupted rm can be run again.
      const keys = [
        ...(yield* store.list(Keys.runParts(run.survey, run.runId))),
        ...(yield* store.list(Keys.runChunks(run.runId))),
        ...(yield* store.list(Keys.runMeta(run.runId, ""))),
        Target.manifestKey(run.runId),
        ...(others.some((r) => r.cubeKey === run.cubeKey) ? [] : [run.cubeKey])
      ]
      for (const key of keys) yield* store.remove(key)
      const mine = Target.ofRun(run.runId)
      const rows = yield* Effect.scoped(
        Effect.flatMap(Sqlite.make({ workdir: o.workdir }), (sql) =>
          sql.transaction("remove run", (db) => {
            const journal = db.prepare("DELETE FROM journal WHERE run_id = ?").run(run.runId).changes
            let messages = 0
            for (const t of ["queue_messages", "dead_letters"]) {
              const del = db.prepare(`DELETE FROM ${t} WHERE seq = ?`)
              for (const m of db.prepare(`SELECT seq, body FROM ${t}`).all() as Array<{ seq: number; body: string }>)
                if (mine(m.body)) messages += del.run(m.seq).changes
            }
            return { journal, messages }
          })
        )
      )
      yield* table.deleteRun(run.runId)
      line(`run ${run.runId} removed: ${keys.length} blob(s), ${rows.journal} journal record(s), ${rows.messages} queued message(s), its run-table records`)
    }).pipe(Effect.provide(LocalTarget.layer(o.workdir, "drive")))
).pipe(Command.withDescription("remove a run: its results, chunks, metadata, journal and run-table records; other runs are left as they are"))
