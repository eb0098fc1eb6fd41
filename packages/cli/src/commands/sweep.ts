/**
 * `phs sweep CUBE --param beta=2:5:0.25 [--param snr_min=1.5,2]`: one run per grid point in
 * the survey's table (run ids as `phs pipeline` makes them, so a repeated sweep resumes or
 * returns its runs), the cube imported once, one progress line for the whole sweep; then,
 * per point, what the `beta-comparison` query shows plus the residual figures, and a plot
 * of them against the parameter (docs/tuning.md).
 */
import { Args, Command, Options } from "@effect/cli"
import { Errors, Fits, Fitter, Params, Pipeline, RunTable, Scoring, Settings } from "@phs/core"
import { LocalRun } from "@phs/runtime-local"
import { Clock, Duration, Effect, Fiber, Option, Ref, Schedule } from "effect"
import * as fs from "node:fs"
import * as LocalTarget from "../target/LocalTarget.js"
import { line, note, table } from "../Output.js"
import * as SweepPlot from "../plot/Sweep.js"
import * as RunData from "../plot/RunData.js"
import * as Progress from "../Progress.js"
import { resolveOutput } from "./plot.js"
import { checkCube, hdu, hduNote } from "./hdu.js"
import { sayInterrupted, surveyFromFile } from "./pipeline.js"
import { json, workdir } from "./shared.js"

export const cube = Args.file({ name: "cube", exists: "yes" }).pipe(Args.withDescription("FITS cube (x, y, velocity)"))
export const gridParam = Options.text("param").pipe(
  Options.withDescription(
    `a swept parameter, repeatable: name=a:b:step (a to b inclusive) or name=v1,v2,...; default ${Scoring.Grid.DEFAULT_GRID.join(" ")}`
  ),
  Options.repeated
)
export const survey = Options.text("survey").pipe(
  Options.withDescription("survey name (a-z, 0-9, _ -); default: from the file name"),
  Options.optional
)
export const chunkSize = Options.integer("chunk-size").pipe(Options.withDescription("spectra per chunk"), Options.withDefault(Params.DEFAULT_CHUNK_SIZE))
export const concurrency = Options.integer("concurrency").pipe(
  Options.withDescription("chunks in flight at once (default: the number of cores + 1, so one always waits for the fitter)"),
  Options.withDefault(Pipeline.defaultConcurrency())
)
export const plotFile = Options.file("plot").pipe(
  Options.withDescription("the plot to write (.svg or .png); default <survey>-<command>.svg in the current directory"),
  Options.optional
)

/** A checked grid over a checked cube: nothing has been written yet. */
export interface Plan {
  readonly cube: string
  readonly survey: string
  readonly header: Fits.CubeHeader
  /** `--hdu`: the HDU the cube was read from when it was named (every point's run records it, as `phs pipeline --hdu` does). */
  readonly hdu: Option.Option<number>
  readonly axes: ReadonlyArray<Scoring.Grid.Axis>
  readonly points: ReadonlyArray<Scoring.Grid.Point>
}

/** Checks the survey name, the grid and the cube (in the HDU `--hdu` names); refuses with one line before anything is written. */
export const plan = (o: {
  readonly cube: string
  readonly survey: Option.Option<string>
  readonly param: ReadonlyArray<string>
  readonly hdu: Option.Option<number>
}) =>
  Effect.gen(function* () {
    const surveyName = yield* Params.decodeSurvey(Option.getOrElse(o.survey, () => surveyFromFile(o.cube)))
    const axes = yield* Scoring.Grid.parse(o.param)
    const header = yield* checkCube(o.cube, o.hdu)
    return { cube: o.cube, survey: surveyName, header, hdu: o.hdu, axes, points: Scoring.Grid.points(axes) } satisfies Plan
  })

/** Says which HDU the plan's cube is in, when it is not the primary or `--hdu` named it (once the input is checked). */
export const noteHdu = (p: Plan, quiet: boolean): void => {
  const inHdu = hduNote(p.header, p.hdu)
  if (Option.isSome(inHdu) && !quiet) note(`note: ${inHdu.value}`)
}

/** The parameter on a plot's x axis: the first one with more than one value. */
export const xAxis = (axes: ReadonlyArray<Scoring.Grid.Axis>): Scoring.Grid.Axis => axes.find((a) => a.values.length > 1) ?? axes[0]

/** A point's other parameters as text (the plot's series), "" when only one is swept. */
export const groupOf = (axes: ReadonlyArray<Scoring.Grid.Axis>, p: Scoring.Grid.Point): string =>
  Scoring.Grid.describe(Object.fromEntries(Object.entries(p).filter(([k]) => k !== xAxis(axes).name && axes.some((a) => a.name === k && a.values.length > 1))))

/** What the progress line shows: the runs started so far and the point being fitted. */
interface SweepState {
  readonly runs: ReadonlyArray<string>
  readonly label: string
}

/**
 * One progress line for every run of the sweep: spectra done over all points, which point
 * is being fitted. Reads only the run table, as `Progress.watch` does for one run.
 */
const watchSweep = (state: Ref.Ref<SweepState>, perRun: number, points: number, tty: boolean) =>
  Effect.gen(function* () {
    const t0 = yield* Clock.currentTimeMillis
    let first: number | null = null
    let lastLen = 0
    const tick = Effect.gen(function* () {
      const { runs, label } = yield* Ref.get(state)
      const records: RunTable.RunRecord[] = []
      for (const id of runs) {
        const got = yield* (yield* RunTable.RunTable).getRun(id)
        if (Option.isSome(got)) records.push(got.value)
      }
      if (records.length === 0) return
      const done = records.reduce((s, r) => s + r.spectraDone, 0)
      const sum = (f: (r: RunTable.RunRecord) => number) => records.reduce((s, r) => s + f(r), 0)
      const total: RunTable.RunRecord = {
        ...records[records.length - 1],
        nSpectra: perRun * points,
        spectraDone: done,
        jobsFailed: sum((r) => r.jobsFailed),
        spectraDeferred: sum((r) => r.spectraDeferred),
        slowPending: sum((r) => r.slowPending),
        status: "RUNNING"
      }
      const now = yield* Clock.currentTimeMillis
      first ??= done
      const elapsed = (now - t0) / 1000
      const rate = elapsed > 0.5 ? (done - first) / elapsed : 0
      const text = `${label}  ${Progress.renderLine(total, rate, { width: (process.stderr.columns ?? 100) - label.length - 2, bar: tty })}`
      if (tty) {
        process.stderr.write(`\r${text}${" ".repeat(Math.max(0, lastLen - text.length))}`)
        lastLen = text.length
      } else process.stderr.write(`${new Date(now).toISOString()} ${text}\n`)
    }).pipe(Effect.ignore)
    yield* tick.pipe(
      Effect.repeat(Schedule.spaced(Duration.millis(tty ? 250 : 5000))),
      Effect.ensuring(Effect.suspend(() => tick)),
      Effect.ensuring(Effect.sync(() => tty && process.stderr.write("\n")))
    )
  })

/** A grid point and its run. */
export interface PointRun {
  readonly params: Scoring.Grid.Point
  readonly run: RunTable.RunRecord
}

/**
 * Runs every point of a plan, in order, under the workdir's driver lock: the cube is
 * imported (and hashed) once, each point is a run started (or found) by its id and driven
 * to its end. The runs' fits go through the sweep's fitter (`Scoring.SweepFitter`): the
 * first point to fit a chunk fits it for every point not yet finished, and the later
 * points' fits of that chunk are answered from it (docs/tuning.md, "What a sweep costs").
 */
export const runPoints = (
  p: Plan,
  o: { readonly command: "sweep" | "tune"; readonly workdir: string; readonly chunkSize: number; readonly concurrency: number; readonly quiet: boolean }
) =>
  // A bad setting is refused before the workdir is opened.
  Effect.flatMap(Effect.suspend(() => Settings.fromEnv(Scoring.SweepFitter.cacheBudgetMiB, process.env)), (budgetMiB) =>
    Effect.gen(function* () {
      const cube = yield* LocalRun.importCubeHashed(p.cube, p.survey)
      const submission = (params: Scoring.Grid.Point): LocalRun.Submission => ({
        cube: cube.key,
        cubeSha256: cube.sha256,
        cubeName: LocalRun.cubeFileName(p.cube),
        survey: p.survey,
        params: { ...params },
        chunkSize: o.chunkSize,
        hdu: Option.getOrUndefined(p.hdu)
      })
      const sets = yield* Effect.forEach(p.points, (params) =>
        Effect.map(Params.resolve(params), (r): Scoring.SweepFitter.SweepSet => ({ params: Params.fitParams(r), timeoutMs: r.timeout_ms }))
      )
      const fitter = yield* Scoring.SweepFitter.make(yield* Fitter.Fitter, sets, { budgetBytes: budgetMiB * 1024 * 1024 })
      const table = yield* RunTable.RunTable
      // Points finished by an earlier sweep need no fits.
      for (const [i, params] of p.points.entries()) {
        const { input } = yield* LocalRun.prepareImported(submission(params))
        const run = yield* table.getRun(input.runId)
        if (Option.isSome(run) && run.value.status === "COMPLETED") yield* fitter.retire(sets[i])
      }
      const state = yield* Ref.make<SweepState>({ runs: [], label: "" })
      const progress = o.quiet
        ? Option.none()
        : Option.some(yield* Effect.fork(watchSweep(state, p.header.nx * p.header.ny, p.points.length, process.stderr.isTTY === true)))
      const out: PointRun[] = []
      for (const [i, params] of p.points.entries()) {
        const label = `point ${i + 1}/${p.points.length} ${Scoring.Grid.describe(params)}`
        yield* Ref.update(state, (s) => ({ ...s, label }))
        const runId = yield* LocalRun.submitImported(Pipeline.standard, submission(params))
        yield* Ref.update(state, (s) => ({ ...s, runs: [...s.runs, runId] }))
        const run = yield* Pipeline.drive(Pipeline.standard, runId, { concurrency: o.concurrency }).pipe(
          Effect.provideService(Fitter.Fitter, fitter),
          // The progress line ends first; the points' finished chunks stay, so the same command carries on.
          Effect.onInterrupt(() =>
            Effect.zipRight(
              Option.match(progress, { onNone: () => Effect.void, onSome: Fiber.interrupt }),
              sayInterrupted({ what: label, runId, before: Option.none(), how: `the same phs ${o.command} again carries on (phs resume ${runId}${LocalTarget.workdirFlag(o.workdir)} this point)` })
            )
          )
        )
        yield* fitter.retire(sets[i])
        out.push({ params, run })
      }
      if (Option.isSome(progress)) yield* Fiber.interrupt(progress.value)
      return { points: out, fits: yield* fitter.stats }
    }).pipe(Effect.provide(LocalTarget.layer(o.workdir, "drive")))
  )

/** What a sweep prints for a point. */
export interface PointSummary {
  readonly params: Scoring.Grid.Point
  readonly runId: string
  readonly status: string
  readonly spectra: number
  readonly mean_components: number | null
  readonly median_components: number | null
  readonly stddev_components: number | null
  readonly mean_chi2_reduced: number | null
  readonly noise_consistent_fraction: number | null
}

/**
 * A run's rows and its figures: the component counts, and the mean of the rows'
 * `chi2_reduced` with the fraction of spectra whose residual is consistent with noise.
 */
export const summarise = (p: Plan, point: PointRun, workdir: string) =>
  Effect.gen(function* () {
    const { rows } = yield* RunData.load(point.run.runId)
    const counts = Scoring.Summary.counts(rows.map((r) => r.n_components))
    let chi2 = 0
    let scored = 0
    let consistent = 0
    for (const r of rows) {
      if (r.n_components < 0 || r.chi2_reduced === null || !Number.isFinite(r.chi2_reduced)) continue
      chi2 += r.chi2_reduced
      scored++
      if (Scoring.Residual.consistentWithNoise(r.chi2_reduced, p.header.nchan - r.nan_channels - 3 * r.n_components)) consistent++
    }
    const summary: PointSummary = {
      params: point.params,
      runId: point.run.runId,
      status: point.run.status,
      spectra: counts.spectra,
      mean_components: counts.mean,
      median_components: counts.median,
      stddev_components: counts.stddev,
      mean_chi2_reduced: scored > 0 ? chi2 / scored : null,
      noise_consistent_fraction: scored > 0 ? consistent / scored : null
    }
    return { summary, rows }
  }).pipe(Effect.provide(RunData.layer(workdir)))

/** The cube file as a byte source for the FITS reader, open for the body. */
export const withCube = <A, E, R>(file: string, body: (src: Fits.ByteSource<never>) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.try({ try: () => fs.openSync(file, "r"), catch: (e) => new Errors.InvalidInput({ reason: `cannot open ${file}: ${(e as Error).message}` }) }),
    (fd) =>
      body(LocalRun.fileSource(fd)).pipe(
        Effect.catchIf(
          (e): e is E & Fits.FitsError => typeof e === "object" && e !== null && "_tag" in e && e._tag === "FitsError",
          (e) => Effect.fail(new Errors.InvalidInput({ reason: `${file}: ${e.reason}` }))
        )
      ),
    (fd) => Effect.sync(() => fs.closeSync(fd))
  )

const num = (v: number | null, digits = 3): string | number => (v === null ? "-" : Number(v.toFixed(digits)))

/** Fails with RunFailed when any point's run failed (after everything was printed). */
export const ensureAllCompleted = (points: ReadonlyArray<PointRun>) => Effect.forEach(points, (p) => Pipeline.ensureCompleted(p.run), { discard: true })

export const sweep = Command.make(
  "sweep",
  { cube, param: gridParam, survey, hdu, chunkSize, concurrency, workdir, json, plot: plotFile },
  (o) =>
    Effect.gen(function* () {
      const p = yield* plan(o)
      yield* resolveOutput(o.plot, Option.none(), `${p.survey}-sweep`)
      noteHdu(p, o.json)
      const started = Date.now()
      const { points: ran, fits } = yield* runPoints(p, { command: "sweep", workdir: o.workdir, chunkSize: o.chunkSize, concurrency: o.concurrency, quiet: o.json })
      const seconds = (Date.now() - started) / 1000
      const summaries: PointSummary[] = []
      for (const point of ran) {
        summaries.push(
          point.run.status === "COMPLETED"
            ? (yield* summarise(p, point, o.workdir)).summary
            : { params: point.params, runId: point.run.runId, status: point.run.status, spectra: 0, mean_components: null, median_components: null, stddev_components: null, mean_chi2_reduced: null, noise_consistent_fraction: null }
        )
      }
      const axis = xAxis(p.axes)
      const file = yield* SweepPlot.write(
        {
          title: `${p.survey}: sweep of ${p.axes.map((a) => a.name).join(" × ")}`,
          subtitle: `${p.points.length} runs of ${(p.header.nx * p.header.ny).toLocaleString("en-US")} spectra`,
          x: axis.name,
          rows: summaries.map((s) => ({ x: s.params[axis.name], group: groupOf(p.axes, s.params), ...s, params: null })),
          panels: [
            { series: [{ field: "mean_components", label: "mean" }, { field: "median_components", label: "median" }], title: "components per spectrum" },
            { series: [{ field: "mean_chi2_reduced", label: "mean χ²_red" }], title: "mean reduced χ²" },
            { series: [{ field: "noise_consistent_fraction", label: "fraction" }], title: "residual ≈ noise", domain: [0, 1] }
          ]
        },
        o.plot,
        `${p.survey}-sweep`
      )
      const shared = { chunksFittedForAll: fits.sharedCalls, chunksAnswered: fits.answered, chunksFittedAlone: fits.passedOn }
      if (o.json) line(JSON.stringify({ survey: p.survey, seconds, points: summaries, plot: file, fits: shared }))
      else {
        const names = p.axes.map((a) => a.name)
        line(`sweep of ${p.survey}: ${p.points.length} points in ${seconds.toFixed(1)} s`)
        line(
          table(
            [...names, "run", "status", "spectra", "mean_n", "median_n", "std_n", "chi2_red", "noise_ok"],
            summaries.map((s) => [
              ...names.map((n) => s.params[n]),
              s.runId,
              s.status.toLowerCase(),
              s.spectra,
              num(s.mean_components),
              num(s.median_components),
              num(s.stddev_components),
              num(s.mean_chi2_reduced),
              num(s.noise_consistent_fraction)
            ])
          )
        )
        line(`plot: ${file}`)
        line(`  chi2_red: mean reduced χ² of the residual; noise_ok: fraction of spectra whose residual is consistent with noise (docs/tuning.md)`)
      }
      yield* ensureAllCompleted(ran)
    })
).pipe(Command.withDescription("one run per point of a parameter grid, with the component counts and fit quality of each, and a plot"))
