/**
 * `phs pipeline CUBE.fits`: validate the cube and parameters, put the cube in the workdir,
 * and drive split → fit → slow-fit → catalog with a live progress bar. With `--target aws`
 * the cube and its manifest go to the deployment's bucket instead, the Lambdas do the work,
 * and the same progress bar follows the run table (aws/Pipeline.ts).
 */
import { Args, Command, Options } from "@effect/cli"
import { Errors, Fits, Keys, Params, Pipeline } from "@phs/core"
import { LocalRun } from "@phs/runtime-local"
import { Effect, Fiber, HashMap, Option } from "effect"
import * as os from "node:os"
import * as path from "node:path"
import * as Aws from "../aws/Lazy.js"
import * as Local from "../Local.js"
import { line } from "../Output.js"
import * as Progress from "../Progress.js"
import { checkConcurrency, json, targetOptions, workdir } from "./shared.js"

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

/** User text for a one-line message: control characters escaped, at most 80 characters. */
const printable = (text: string): string => {
  // eslint-disable-next-line no-control-regex
  const escaped = text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
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
        return yield* Effect.fail(new Errors.InvalidInput({ reason: `--param ${printable(k)}=${printable(v)}: the value must be a number` }))
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
  { cube, survey, param, chunkSize, concurrency, workdir, json, ...targetOptions },
  (o) =>
    Effect.gen(function* () {
      yield* checkConcurrency(o.concurrency)
      const surveyName = yield* Params.decodeSurvey(Option.getOrElse(o.survey, () => surveyFromFile(o.cube)))
      const params = yield* parseParams(o.param)
      yield* Params.resolve(params)
      const header = yield* LocalRun.checkCube(o.cube)
      if (header.hdu > 0 && !o.json) process.stderr.write(`phs: note: the cube is in ${Fits.describeHdu(header)}\n`)
      if (o.target === "aws") {
        const done = yield* (yield* Aws.pipeline).submitAndWatch({ cube: o.cube, survey: surveyName, params, chunkSize: o.chunkSize, quiet: o.json }, o)
        yield* reportAt(done.run, { where: done.where, seconds: done.seconds, asJson: o.json, query: done.query })
        yield* Pipeline.ensureCompleted(done.run)
        return
      }
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
  reportAt(run, {
    where: path.join(dir, "blobs", Keys.surveyPartition(run.survey)),
    seconds,
    asJson,
    extra: () => ({ maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) }),
    query: `phs query "SELECT n_components, count(*) FROM decompositions WHERE run_id = '${run.runId}' GROUP BY 1 ORDER BY 1"`
  })

/** The end-of-run summary, with the results at `where` and a query to try on them. */
export const reportAt = (
  run: import("@phs/core").RunTable.RunRecord,
  o: { readonly where: string; readonly seconds: number; readonly asJson: boolean; readonly extra?: () => Record<string, unknown>; readonly query: string }
) =>
  Effect.sync(() => {
    const { where, seconds } = o
    if (o.asJson) {
      line(JSON.stringify({ ...run, seconds, results: where, ...(o.extra?.() ?? {}) }))
      return
    }
    line(`run ${run.runId}: ${run.status}${run.reason ? ` (${run.reason})` : ""}`)
    line(`  ${run.spectraDone.toLocaleString("en-US")} of ${run.nSpectra.toLocaleString("en-US")} spectra in ${seconds.toFixed(1)} s` +
      ` (${(run.spectraDone / Math.max(seconds, 1e-3)).toFixed(0)}/s); ${run.spectraDeferred} went through the slow fit; ${run.jobsFailed} chunk(s) failed`)
    if (run.status === "COMPLETED") {
      line(`  results: ${where} (table phspectra.decompositions, survey=${run.survey})`)
      line(`  try: ${o.query}`)
    }
  })
