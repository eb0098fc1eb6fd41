/**
 * `phs pipeline CUBE.fits`: validate the cube and parameters, put the cube in the workdir,
 * and drive split → fit → slow-fit → catalog with a live progress bar.
 */
import { Args, Command, Options } from "@effect/cli"
import { Errors, Keys, Params, Pipeline } from "@phs/core"
import { LocalRun } from "@phs/runtime-local"
import { Effect, Fiber, HashMap, Option } from "effect"
import * as os from "node:os"
import * as path from "node:path"
import * as Local from "../Local.js"
import { line } from "../Output.js"
import * as Progress from "../Progress.js"
import { json, workdir } from "./shared.js"

const cube = Args.file({ name: "cube", exists: "yes" }).pipe(Args.withDescription("FITS cube (x, y, velocity)"))
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
  Options.withDescription("chunks fitted at once (default: number of cores)"),
  Options.withDefault(os.availableParallelism())
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

/** `--param` values are numbers; anything else is a usage error. */
export const parseParams = (raw: Option.Option<HashMap.HashMap<string, string>>) =>
  Effect.gen(function* () {
    const out: Record<string, number> = {}
    if (Option.isNone(raw)) return out
    for (const [k, v] of HashMap.toEntries(raw.value)) {
      const n = Number(v)
      if (v.trim() === "" || !Number.isFinite(n))
        return yield* Effect.fail(new Errors.InvalidInput({ reason: `--param ${k}=${v}: the value must be a number` }))
      out[k] = n
    }
    return out
  })

/** Drives a run to its end with the progress bar; shared by `pipeline` and `resume`. */
export const driveWithProgress = (runId: string, options: { readonly concurrency: number; readonly quiet: boolean }) =>
  Effect.gen(function* () {
    const progress = options.quiet ? Option.none() : Option.some(yield* Effect.fork(Progress.watch(runId, { tty: process.stderr.isTTY === true })))
    const run = yield* Pipeline.drive(Pipeline.standard, runId, { concurrency: options.concurrency })
    if (Option.isSome(progress)) yield* Fiber.interrupt(progress.value)
    return run
  })

export const pipeline = Command.make(
  "pipeline",
  { cube, survey, param, chunkSize, concurrency, workdir, json },
  (o) =>
    Effect.gen(function* () {
      const surveyName = yield* Params.decodeSurvey(Option.getOrElse(o.survey, () => surveyFromFile(o.cube)))
      const params = yield* parseParams(o.param)
      yield* Params.resolve(params)
      yield* LocalRun.checkCube(o.cube)
      const started = Date.now()
      const run = yield* Local.withDriverLock(o.workdir, () =>
        Effect.gen(function* () {
          const runId = yield* LocalRun.submit(Pipeline.standard, { cube: o.cube, survey: surveyName, params, chunkSize: o.chunkSize })
          return yield* driveWithProgress(runId, { concurrency: o.concurrency, quiet: o.json })
        })
      ).pipe(Effect.provide(Local.layer(o.workdir)))
      yield* report(run, o.workdir, (Date.now() - started) / 1000, o.json)
      yield* Pipeline.ensureCompleted(run)
    })
).pipe(Command.withDescription("decompose every spectrum of a cube into Gaussian components"))

/** The end-of-run summary. */
export const report = (run: import("@phs/core").RunTable.RunRecord, dir: string, seconds: number, asJson: boolean) =>
  Effect.sync(() => {
    const where = path.join(dir, "blobs", Keys.surveyPartition(run.survey))
    if (asJson) {
      line(JSON.stringify({ ...run, seconds, results: where, maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) }))
      return
    }
    line(`run ${run.runId}: ${run.status}${run.reason ? ` (${run.reason})` : ""}`)
    line(`  ${run.spectraDone.toLocaleString("en-US")} of ${run.nSpectra.toLocaleString("en-US")} spectra in ${seconds.toFixed(1)} s` +
      ` (${(run.spectraDone / Math.max(seconds, 1e-3)).toFixed(0)}/s); ${run.spectraDeferred} went through the slow fit; ${run.jobsFailed} chunk(s) failed`)
    if (run.status === "COMPLETED") {
      line(`  results: ${where} (table phspectra.decompositions, survey=${run.survey})`)
      line(`  try: phs query "SELECT n_components, count(*) FROM decompositions WHERE run_id = '${run.runId}' GROUP BY 1 ORDER BY 1"`)
    }
  })
