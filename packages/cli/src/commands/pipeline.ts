/**
 * `phs pipeline CUBE.fits`: validate the cube and parameters, hand the cube to the target
 * (the workdir, or the aws deployment's bucket) and drive its run split → fit → slow-fit →
 * catalog with a live progress bar (locally; on aws the Lambdas do the work and the same bar
 * follows the run table). Written once for every target (target/Target.ts).
 */
import { Args, Command, Options } from "@effect/cli"
import { Errors, Params, Pipeline, RunTable } from "@phs/core"
import { refitSkipReason } from "@phs/core/refit"
import { Effect, HashMap, Option } from "effect"
import * as path from "node:path"
import { line, note, printable, shellWord, table as textTable } from "../Output.js"
import * as CubeSet from "../CubeSet.js"
import * as Progress from "../Progress.js"
import { Target } from "../target/Target.js"
import { checkCube, hdu, hduNote } from "./hdu.js"
import { checkChunkSize, checkConcurrency, json, onTarget, targetOptions } from "./shared.js"

const cube = Args.text({ name: "cube" }).pipe(
  Args.withDescription("FITS cube (x, y, velocity); several, a directory or a glob run each cube as its own run of one --survey"),
  Args.atLeast(1)
)
const survey = Options.text("survey").pipe(
  Options.withDescription("survey name (a-z, 0-9, _ -); default: from the file name"),
  Options.optional
)
const param = Options.keyValueMap("param").pipe(
  Options.withDescription(`decomposition parameter k=v, repeatable: ${Params.describeParams()}`),
  Options.optional
)
const chunkSize = Options.integer("chunk-size").pipe(
  Options.withDescription("spectra per chunk"),
  Options.withDefault(Params.DEFAULT_CHUNK_SIZE)
)
const concurrency = Options.integer("concurrency").pipe(
  Options.withDescription("chunks in flight at once (default: the number of cores + 1, so one always waits for the fitter)"),
  Options.withDefault(Pipeline.defaultConcurrency())
)

const refit = Options.choice("refit", Params.REFIT_MODES).pipe(
  Options.withDescription("refit stage after the fit: none, or spatial (the spatially coherent refit, docs/fan-out-stages.md)"),
  Options.withDefault("none" as const)
)

/** A survey name from a file name: "GRS_L23.fits" → "grs_l23". */
export const surveyFromFile = (file: string): string =>
  path
    .basename(file)
    .replace(/\.fits?(\.gz)?$/i, "")
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "-")
    .replace(/^[^a-z0-9]+/, "")
    .slice(0, 63) || "survey"

/** User text for a one-line message: control characters escaped, at most 80 characters. */
const quoted = (text: string): string => {
  const escaped = printable(text)
  return escaped.length > 80 ? `${escaped.slice(0, 77)}...` : escaped
}

/** `--param` values are numbers; anything else is a usage error. */
export const parseParams = (raw: Option.Option<HashMap.HashMap<string, string>>) =>
  Effect.gen(function* () {
    // No prototype: a parameter named __proto__ is a key like any other (and then refused as unknown).
    const out: Record<string, number> = Object.create(null)
    if (Option.isNone(raw)) return out
    for (const [k, v] of HashMap.toEntries(raw.value)) {
      const n = Number(v)
      if (v.trim() === "" || !Number.isFinite(n))
        return yield* Effect.fail(new Errors.InvalidInput({ reason: `--param ${quoted(k)}=${quoted(v)}: the value must be a number` }))
      out[k] = n
    }
    return out
  })

const count = (n: number) => n.toLocaleString("en-US")

/**
 * The one line an interrupted drive leaves (pipeline, a set's cube, a sweep's point): what
 * was interrupted, where its run stands, and `how` to go on. `before` stands in when the
 * run table cannot be read any more.
 */
export const sayInterrupted = (o: { readonly what?: string; readonly runId: string; readonly before: Option.Option<RunTable.RunRecord>; readonly how: string }) =>
  Effect.gen(function* () {
    const now = yield* Effect.orElseSucceed(Effect.flatMap(RunTable.RunTable, (t) => t.getRun(o.runId)), () => o.before)
    const at = Option.match(now, { onNone: () => "", onSome: (r) => ` at ${count(r.spectraDone)}/${count(r.nSpectra)}` })
    process.stderr.write(`interrupted: ${o.what === undefined ? "" : `${o.what}, `}run ${o.runId}${at}; ${o.how}\n`)
  })

/**
 * Drives (or follows) a run to its end and prints its summary; shared by `pipeline` and
 * `resume`. Interrupted (Ctrl-C, SIGTERM), it says in one line where the run is and how
 * to go on; the target has put the in-flight work back by then.
 */
export const driveAndReport = (runId: string, options: { readonly concurrency: number; readonly asJson: boolean }) =>
  Effect.gen(function* () {
    const target = yield* Target
    const table = yield* RunTable.RunTable
    const before = yield* table.getRun(runId)
    const doneBefore = Option.match(before, { onNone: () => 0, onSome: (r) => r.spectraDone })
    const started = Date.now()
    const run = yield* target.drive(runId, { concurrency: options.concurrency, quiet: options.asJson }).pipe(
      Effect.onInterrupt(() => sayInterrupted({ runId, before, how: `continue with phs resume ${runId}${target.flags}` }))
    )
    yield* report(run, { seconds: (Date.now() - started) / 1000, spectra: run.spectraDone - doneBefore, asJson: options.asJson })
    return yield* Pipeline.ensureCompleted(run)
  })

/** The query `phs pipeline` suggests at the end, ready to paste. */
export const tryQuery = (run: RunTable.RunRecord, flags: string): string =>
  `phs query${flags} ${shellWord(`SELECT n_components, count(*) FROM decompositions WHERE survey = '${run.survey}' AND run_id = '${run.runId}' GROUP BY 1 ORDER BY 1`)}`

/**
 * The end-of-run summary: the spectra and seconds of this process's work (a resumed run's
 * earlier work is not in the rate), or, for a run found already finished, its record.
 */
export const report = (
  run: RunTable.RunRecord,
  o: { readonly seconds: number; readonly spectra: number; readonly asJson: boolean; readonly already?: boolean }
) =>
  Effect.gen(function* () {
    const target = yield* Target
    const where = target.resultsAt(run.survey)
    if (o.asJson) return line(JSON.stringify({ ...run, seconds: o.seconds, results: where, ...(o.already === true ? { already: true } : {}), ...target.summaryExtra() }))
    line(`run ${run.runId}: ${o.already === true ? `already ${run.status === "COMPLETED" ? "completed" : run.status.toLowerCase()}` : run.status}${run.reason ? ` (${run.reason})` : ""}`)
    if (o.already === true)
      line(
        `  ${count(run.spectraDone)} of ${count(run.nSpectra)} spectra; ${run.spectraDeferred} went through the slow fit; ${run.jobsFailed} chunk(s) failed` +
          `; finished ${new Date(run.updatedAt).toISOString().replace("T", " ").slice(0, 19)} UTC`
      )
    else
      line(
        `  ${count(run.spectraDone)} of ${count(run.nSpectra)} spectra; ${count(o.spectra)} in ${o.seconds.toFixed(1)} s here` +
          ` (${Progress.formatRate(o.spectra / Math.max(o.seconds, 1e-3))}); ${run.spectraDeferred} went through the slow fit; ${run.jobsFailed} chunk(s) failed`
      )
    if (run.status === "COMPLETED") {
      line(`  results: ${where} (table phspectra.decompositions, survey=${run.survey})`)
      line(`  try: ${tryQuery(run, target.flags)}`)
    } else if (run.status === "FAILED") line(`  see phs status ${run.runId}${target.flags}; phs resume ${run.runId}${target.flags} tries again`)
  })

/** Whether two runs were made with the same settings: what a set gives each of its cubes. */
const sameSettings = (a: RunTable.RunRecord, b: RunTable.RunRecord): boolean => {
  const keys = Object.keys(a.params)
  return (
    a.chunkSize === b.chunkSize &&
    a.hdu === b.hdu &&
    (a.refit ?? "none") === (b.refit ?? "none") &&
    a.codeVersion === b.codeVersion &&
    keys.length === Object.keys(b.params).length &&
    keys.every((k) => b.params[k] === a.params[k])
  )
}

/**
 * Runs of the target other than `runId` that are not finished, in one line each. For a set
 * (`set`: its survey), its survey's runs made with `runId`'s settings are left out: the set
 * comes to them; its runs with other settings (another `--chunk-size`, `--param`) are named.
 */
const otherUnfinished = (runId: string, setSurvey?: string) =>
  Effect.gen(function* () {
    const target = yield* Target
    const table = yield* RunTable.RunTable
    const runs = yield* table.listRuns({ limit: 1000 })
    const current = runs.find((r) => r.runId === runId) ?? Option.getOrUndefined(yield* table.getRun(runId))
    const theSetComesTo = (r: RunTable.RunRecord) => r.survey === setSurvey && (current === undefined || sameSettings(r, current))
    return runs
      .filter((r) => r.runId !== runId && !theSetComesTo(r) && r.status !== "COMPLETED" && r.status !== "FAILED" && !r.runId.startsWith("invalid-"))
      .map((r) => ({ runId: r.runId, text: `run ${r.runId} is unfinished too (${r.status.toLowerCase()}, ${count(r.spectraDone)}/${count(r.nSpectra)} spectra); continue it with phs resume ${r.runId}${target.flags}` }))
  })

/** One cube of the set: submitted (or found), then driven and reported. */
const pipelineOne = (
  file: string,
  surveyName: string,
  params: Record<string, number>,
  o: { readonly chunkSize: number; readonly concurrency: number; readonly json: boolean; readonly refit: Params.RefitMode; readonly hdu: Option.Option<number> }
) =>
  Effect.gen(function* () {
    const target = yield* Target
    const submitted = yield* target
      .submit({ cube: file, survey: surveyName, params, chunkSize: o.chunkSize, refit: o.refit, hdu: Option.getOrUndefined(o.hdu), quiet: o.json })
      .pipe(
      Effect.onInterrupt(() => Effect.sync(() => process.stderr.write("interrupted before the run was under way; the same phs pipeline again carries on\n")))
    )
    if (Option.isSome(submitted.before) && (submitted.before.value.status === "COMPLETED" || submitted.before.value.status === "FAILED")) {
      yield* report(submitted.before.value, { seconds: 0, spectra: 0, asJson: o.json, already: true })
      return yield* Pipeline.ensureCompleted(submitted.before.value)
    }
    if (!o.json) {
      if (Option.isSome(submitted.before)) note(`run ${submitted.runId} exists already (${submitted.before.value.status.toLowerCase()}): continuing it`)
      for (const { text } of yield* otherUnfinished(submitted.runId)) note(text)
    }
    return yield* driveAndReport(submitted.runId, { concurrency: o.concurrency, asJson: o.json })
  })

/** What became of one cube of a set. */
interface CubeOutcome {
  readonly file: string
  readonly run: RunTable.RunRecord
  /** Seconds and spectra of this process's work on it (0 for a run found finished). */
  readonly seconds: number
  readonly spectra: number
  readonly already: boolean
}

/** The query a set's summary suggests: the survey's components per cube. */
export const trySetQuery = (survey: string, flags: string): string =>
  `phs query${flags} ${shellWord(`SELECT cube, n_components, count(*) FROM decompositions WHERE survey = '${survey}' GROUP BY 1, 2 ORDER BY 1, 2`)}`

/** The summary of a set: one JSON document, or a line for the set and a table of its cubes. */
const reportSet = (survey: string, outcomes: ReadonlyArray<CubeOutcome>, work: { readonly seconds: number; readonly spectra: number }, asJson: boolean) =>
  Effect.gen(function* () {
    const target = yield* Target
    const total = outcomes.reduce((a, c) => a + c.run.nSpectra, 0)
    const done = outcomes.reduce((a, c) => a + c.run.spectraDone, 0)
    const failed = outcomes.filter((c) => c.run.status !== "COMPLETED")
    const where = target.resultsAt(survey)
    if (asJson)
      return line(
        JSON.stringify({
          survey,
          status: failed.length === 0 ? "COMPLETED" : "FAILED",
          nSpectra: total,
          spectraDone: done,
          seconds: work.seconds,
          results: where,
          cubes: outcomes.map((c) => ({ file: c.file, ...c.run, seconds: c.seconds, ...(c.already ? { already: true } : {}) })),
          ...target.summaryExtra()
        })
      )
    line(
      failed.length === 0
        ? `survey ${survey}: ${outcomes.length} cubes, ${count(total)} spectra completed`
        : `survey ${survey}: ${outcomes.length} cubes, ${outcomes.length - failed.length} completed, ${failed.length} failed; ${count(done)} of ${count(total)} spectra`
    )
    const rows = outcomes.map((c) => [
      path.basename(c.file),
      c.run.runId,
      c.run.status,
      c.run.nSpectra,
      c.already ? "already done" : `${count(c.spectra)} in ${c.seconds.toFixed(1)} s`
    ])
    for (const l of textTable(["cube", "run", "status", "spectra", "this time"], rows).split("\n")) line(`  ${l}`)
    line(`  ${count(work.spectra)} spectra in ${work.seconds.toFixed(1)} s here (${Progress.formatRate(work.spectra / Math.max(work.seconds, 1e-3))})`)
    if (failed.length > 0) line(`  see phs status --survey ${survey}${target.flags}; phs resume RUN${target.flags} tries a failed run again`)
    if (failed.length < outcomes.length) {
      line(`  results: ${where} (table phspectra.decompositions, survey=${survey})`)
      line(`  try: ${trySetQuery(survey, target.flags)}`)
    }
  })

/**
 * A set of cubes, one run each, driven one after another under one progress display (per
 * cube and for the set). A cube whose run fails does not stop the set: the set fails at its
 * end, naming it.
 */
const pipelineSet = (
  cubes: ReadonlyArray<string>,
  sizes: ReadonlyArray<number>,
  surveyName: string,
  params: Record<string, number>,
  o: { readonly chunkSize: number; readonly concurrency: number; readonly json: boolean; readonly refit: Params.RefitMode; readonly hdu: Option.Option<number> }
) =>
  Effect.gen(function* () {
    const target = yield* Target
    const set = Progress.makeSetDisplay({ tty: process.stderr.isTTY === true, quiet: o.json }, cubes.map((c, k) => ({ name: path.basename(c), spectra: sizes[k] })))
    const outcomes: CubeOutcome[] = []
    // Each unfinished run the set does not come to is named once, not at every cube.
    const named = new Set<string>()
    const drive = Effect.gen(function* () {
      for (const [k, file] of cubes.entries()) {
        const name = `cube ${k + 1}/${cubes.length} ${printable(path.basename(file))}`
        // The target's own notes (an upload) go on lines of their own.
        set.clear()
        const submitted = yield* target.submit({ cube: file, survey: surveyName, params, chunkSize: o.chunkSize, refit: o.refit, hdu: Option.getOrUndefined(o.hdu), quiet: o.json })
        const before = Option.getOrUndefined(submitted.before)
        if (before !== undefined && (before.status === "COMPLETED" || before.status === "FAILED")) {
          set.settled(k, before)
          set.note(`${name}: run ${before.runId} already ${before.status === "COMPLETED" ? "completed" : "failed"} (${count(before.spectraDone)} of ${count(before.nSpectra)} spectra)`)
          outcomes.push({ file, run: before, seconds: 0, spectra: 0, already: true })
          continue
        }
        if (before !== undefined) set.note(`${name}: run ${submitted.runId} exists already (${before.status.toLowerCase()}): continuing it`)
        for (const { runId, text } of yield* otherUnfinished(submitted.runId, surveyName)) {
          if (named.has(runId)) continue
          named.add(runId)
          set.note(text)
        }
        const started = Date.now()
        const run = yield* target.drive(submitted.runId, { concurrency: o.concurrency, quiet: o.json, display: set.cube(k) }).pipe(
          Effect.onInterrupt(() =>
            Effect.zipRight(
              Effect.sync(() => set.end()),
              sayInterrupted({
                what: name,
                runId: submitted.runId,
                before: submitted.before,
                how: `the same phs pipeline again carries on the set (phs resume ${submitted.runId}${target.flags} this cube)`
              })
            )
          )
        )
        const seconds = (Date.now() - started) / 1000
        const spectra = run.spectraDone - (before?.spectraDone ?? 0)
        outcomes.push({ file, run, seconds, spectra, already: false })
        set.note(
          `${name}: run ${run.runId} ${run.status.toLowerCase()}${run.reason ? ` (${run.reason})` : ""}: ${count(run.spectraDone)} of ${count(run.nSpectra)} spectra, ${count(spectra)} in ${seconds.toFixed(1)} s here`
        )
      }
    })
    yield* drive.pipe(Effect.ensuring(Effect.sync(() => set.end())))
    yield* reportSet(surveyName, outcomes, set.work(), o.json)
    const failed = outcomes.filter((c) => c.run.status === "FAILED")
    if (failed.length > 0)
      return yield* Effect.fail(
        new Errors.RunFailed({
          runId: failed[0].run.runId,
          reason: `${failed[0].run.reason ?? "unknown"}${failed.length > 1 ? `; and ${failed.slice(1).map((c) => c.run.runId).join(", ")}` : ""} (${failed.length} of ${cubes.length} cubes of survey ${surveyName} failed)`
        })
      )
  })

export const pipeline = Command.make(
  "pipeline",
  { cube, survey, param, chunkSize, hdu, concurrency, refit, json, ...targetOptions },
  (o) =>
    Effect.gen(function* () {
      yield* checkConcurrency(o.concurrency)
      yield* checkChunkSize(o.chunkSize)
      const cubes = yield* CubeSet.expand(o.cube)
      if (cubes.length > 1 && Option.isNone(o.survey)) {
        return yield* Effect.fail(new Errors.InvalidInput({ reason: `${cubes.length} cubes make one survey: name it with --survey NAME` }))
      }
      const surveyName = yield* Params.decodeSurvey(Option.getOrElse(o.survey, () => surveyFromFile(cubes[0])))
      const params = yield* parseParams(o.param)
      yield* Params.resolve(params)
      const sizes = yield* Effect.forEach(cubes, (c) =>
        Effect.gen(function* () {
          const header = yield* checkCube(c, o.hdu)
          const noRefit = o.refit === "spatial" ? refitSkipReason(header.nx, header.ny) : null
          if (noRefit !== null) note(`refit: ${cubes.length > 1 ? `${printable(path.basename(c))}: ` : ""}${noRefit}`)
          const inHdu = hduNote(header, o.hdu)
          if (Option.isSome(inHdu) && !o.json) note(`note: ${cubes.length > 1 ? `${printable(path.basename(c))}: ` : ""}${inHdu.value}`)
          return header.nx * header.ny
        })
      )
      yield* onTarget(o, "drive")(cubes.length === 1 ? pipelineOne(cubes[0], surveyName, params, o) : pipelineSet(cubes, sizes, surveyName, params, o))
    })
).pipe(Command.withDescription("decompose every spectrum of a cube into Gaussian components"))
