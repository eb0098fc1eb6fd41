/**
 * `phs tune CUBE --truth LABELS.json --param beta=2:5:0.25`: the runs of a sweep scored
 * against labelled spectra (F1, precision, recall overall and per category), the best
 * point and a plot of F1 against the parameter. `phs tune CUBE --synthetic`: no labels and
 * no runs; a synthetic benchmark with the cube's channel count and measured noise is fitted
 * at every point and the best β for that noise regime recommended (docs/tuning.md).
 */
import { Command, Options } from "@effect/cli"
import { Errors, Fits, Fitter, Params, Scoring } from "@phs/core"
import { Effect, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import { line, table } from "../Output.js"
import * as RunData from "../plot/RunData.js"
import * as SweepPlot from "../plot/Sweep.js"
import { resolveOutput } from "./plot.js"
import { hdu } from "./hdu.js"
import { json, workdir } from "./shared.js"
import { chunkSize, concurrency, cube, ensureAllCompleted, gridParam, groupOf, noteHdu, plan, plotFile, runPoints, survey, withCube, xAxis, type Plan } from "./sweep.js"

const truth = Options.file("truth", { exists: "yes" }).pipe(
  Options.withDescription("labelled spectra of some of the cube's pixels (format in docs/tuning.md)"),
  Options.optional
)
const synthetic = Options.boolean("synthetic").pipe(
  Options.withDescription("score on a synthetic benchmark matched to the cube (its channels and noise) instead of labels; no runs")
)
const seed = Options.integer("seed").pipe(Options.withDescription("with --synthetic: the benchmark's seed"), Options.withDefault(1))
const perCategory = Options.integer("per-category").pipe(
  Options.withDescription("with --synthetic: spectra per category (seven categories)"),
  Options.withDefault(100)
)

/** Spectra sampled across the cube to measure its noise. */
const NOISE_SAMPLE = 1000

/** Points whose F1 is within this of the best are reported as the plateau around it. */
const PLATEAU = 0.01

type Figures = { readonly f1: number; readonly precision: number; readonly recall: number }

/** One scored grid point, as `--json` prints it. */
export interface TunePoint extends Figures {
  readonly params: Scoring.Grid.Point
  readonly categories: Readonly<Record<string, Figures>>
  readonly runId?: string
}

const pick = (f: Scoring.Score.Figures): Figures => ({ f1: f.f1, precision: f.precision, recall: f.recall })

const pointOf = (params: Scoring.Grid.Point, report: Scoring.Score.Report, runId?: string): TunePoint => ({
  params,
  ...pick(report.overall),
  categories: Object.fromEntries(Object.entries(report.categories).map(([k, v]) => [k, pick(v)])),
  ...(runId === undefined ? {} : { runId })
})

/** The best point: highest F1, the first of equals. */
export const best = (points: ReadonlyArray<TunePoint>): TunePoint => points.reduce((b, p) => (p.f1 > b.f1 ? p : b))

const readLabels = (file: string) =>
  Effect.try({
    try: () => fs.readFileSync(file, "utf8"),
    catch: (e) => new Errors.InvalidInput({ reason: `cannot read ${file}: ${e instanceof Error ? e.message : String(e)}` })
  }).pipe(Effect.flatMap((text) => Scoring.Labels.decode(text, file)))

/**
 * The cube's noise: the median of the decomposer's noise estimate over spectra sampled
 * evenly across the cube (blank spectra skipped).
 */
export const measureNoise = (p: Plan) =>
  Effect.gen(function* () {
    const n = p.header.nx * p.header.ny
    const take = Math.min(n, NOISE_SAMPLE)
    const nchan = p.header.nchan
    const sample = new Float32Array(take * nchan)
    yield* withCube(p.cube, (src) =>
      Effect.gen(function* () {
        for (let i = 0; i < take; i++) {
          const at = Math.floor((i * n) / take)
          sample.set(yield* Fits.readSpectra(src, p.header, at, 1), i * nchan)
        }
      })
    )
    const fitter = yield* Fitter.Fitter
    const fits = yield* fitter.decomposeBatch(sample, nchan, Params.fitParams(yield* Params.resolve({})), { timeoutMs: 0 })
    const rms = fits.flatMap((f) => (f.rms !== null && f.rms > 0 ? [f.rms] : [])).sort((a, b) => a - b)
    if (rms.length === 0) return yield* Effect.fail(new Errors.InvalidInput({ reason: `${p.cube}: cannot measure the noise: every sampled spectrum is blank` }))
    return { noise: rms[Math.floor(rms.length / 2)], sampled: take }
  })

/** Scores the synthetic benchmark at every point, fitting it directly (no runs). */
const scoreSynthetic = (p: Plan, o: { readonly seed: number; readonly perCategory: number; readonly json: boolean }) =>
  Effect.gen(function* () {
    if (p.header.nchan < Scoring.Synthetic.MIN_CHANNELS)
      return yield* Effect.fail(
        new Errors.InvalidInput({ reason: `${p.cube} has ${p.header.nchan} channels: a synthetic benchmark needs at least ${Scoring.Synthetic.MIN_CHANNELS}` })
      )
    if (o.perCategory < 1 || o.perCategory > 10_000)
      return yield* Effect.fail(new Errors.InvalidInput({ reason: `--per-category must be in [1, 10000], got ${o.perCategory}` }))
    noteHdu(p, o.json)
    const { noise, sampled } = yield* measureNoise(p)
    const bench = Scoring.Synthetic.generate({ seed: o.seed, perCategory: o.perCategory, nChannels: p.header.nchan, noise })
    // The benchmark is fitted for every point at once on the first (Scoring.SweepFitter).
    const resolved = yield* Effect.forEach(p.points, (params) => Params.resolve(params))
    const sets = resolved.map((r) => ({ params: Params.fitParams(r), timeoutMs: r.timeout_ms }))
    const fitter = yield* Scoring.SweepFitter.make(yield* Fitter.Fitter, sets)
    const points: TunePoint[] = []
    for (const [i, params] of p.points.entries()) {
      if (process.stderr.isTTY === true) process.stderr.write(`\rfitting point ${i + 1}/${p.points.length} ${Scoring.Grid.describe(params)}   `)
      const fits = yield* fitter.decomposeBatch(bench.data, p.header.nchan, sets[i].params, { timeoutMs: sets[i].timeoutMs })
      yield* fitter.retire(sets[i])
      const report = Scoring.Score.scoreLabels(bench.labels, (x, y) => fits[y * o.perCategory + x]?.components)
      points.push(pointOf(params, report))
    }
    if (process.stderr.isTTY === true) process.stderr.write("\n")
    return { points, benchmark: { noise, sampled, channels: p.header.nchan, spectra: bench.labels.spectra.length, seed: o.seed, amplitudes: bench.amplitudes } }
  }).pipe(Effect.provide(Fitter.layerNative({ threads: os.availableParallelism() })))

const f3 = (v: number) => Number(v.toFixed(3))

export const tune = Command.make(
  "tune",
  { cube, truth, synthetic, param: gridParam, survey, hdu, chunkSize, concurrency, workdir, json, plot: plotFile, seed, perCategory },
  (o) =>
    Effect.gen(function* () {
      if (Option.isSome(o.truth) === o.synthetic)
        return yield* Effect.fail(new Errors.InvalidInput({ reason: "give either --truth LABELS.json or --synthetic" }))
      const p = yield* plan(o)
      yield* resolveOutput(o.plot, Option.none(), `${p.survey}-tune`)
      let points: TunePoint[]
      let benchmark: Effect.Effect.Success<ReturnType<typeof scoreSynthetic>>["benchmark"] | undefined
      let source: string
      if (Option.isSome(o.truth)) {
        const labels = yield* readLabels(o.truth.value)
        yield* Scoring.Labels.checkAgainstCube(labels, { nx: p.header.nx, ny: p.header.ny, nChannels: p.header.nchan }, o.truth.value)
        noteHdu(p, o.json)
        const { points: ran } = yield* runPoints(p, { workdir: o.workdir, chunkSize: o.chunkSize, concurrency: o.concurrency, quiet: o.json })
        yield* ensureAllCompleted(ran)
        points = []
        for (const point of ran) {
          const { rows } = yield* RunData.load(point.run.runId).pipe(Effect.provide(RunData.layer(o.workdir)))
          const found = Scoring.Score.byPixel(
            rows
              .filter((r) => r.n_components >= 0)
              .map((r) => ({ x: r.x, y: r.y, components: r.component_amplitudes.map((amplitude, k) => ({ amplitude, mean: r.component_means[k], stddev: r.component_stddevs[k] })) }))
          )
          points.push(pointOf(point.params, Scoring.Score.scoreLabels(labels, found), point.run.runId))
        }
        source = `${labels.spectra.length} labelled spectra (${o.truth.value})`
      } else {
        const scored = yield* scoreSynthetic(p, o)
        points = scored.points
        benchmark = scored.benchmark
        source = `a synthetic benchmark of ${benchmark.spectra} spectra (7 categories, ${benchmark.channels} channels, noise ${benchmark.noise.toPrecision(3)})`
      }
      const top = best(points)
      const axis = xAxis(p.axes)
      const categories = Object.keys(points[0].categories)
      const file = yield* SweepPlot.write(
        {
          title: `${p.survey}: F1 against ${axis.name}`,
          subtitle: [`scored on ${source}`, `best ${Scoring.Grid.describe(top.params)} (F1 ${top.f1.toFixed(3)})`],
          x: axis.name,
          rows: points.map((pt) => ({
            x: pt.params[axis.name],
            group: groupOf(p.axes, pt.params),
            f1: pt.f1,
            precision: pt.precision,
            recall: pt.recall,
            ...Object.fromEntries(categories.map((c) => [`cat_${c}`, pt.categories[c]?.f1 ?? null]))
          })),
          panels: [
            { series: [{ field: "f1", label: "F1" }, { field: "precision", label: "precision" }, { field: "recall", label: "recall" }], title: "overall" },
            ...(categories.length > 1 ? [{ series: categories.map((c) => ({ field: `cat_${c}`, label: c })), title: "F1 per category" }] : [])
          ]
        },
        o.plot,
        `${p.survey}-tune`
      )
      const plateau = points.filter((pt) => pt.f1 >= top.f1 - PLATEAU).map((pt) => pt.params[axis.name])
      const recommendation =
        benchmark === undefined
          ? undefined
          : `recommended for this noise regime: ${Scoring.Grid.describe(top.params)} (F1 ${top.f1.toFixed(3)} on the synthetic benchmark: ` +
            `${benchmark.channels} channels, noise σ = ${benchmark.noise.toPrecision(3)} measured as the median rms of ${benchmark.sampled} spectra` +
            `${benchmark.amplitudes === "scaled" ? ", amplitudes scaled to the standard benchmark's signal-to-noise" : ""}); ` +
            `F1 within ${PLATEAU} of it for ${axis.name} in [${Math.min(...plateau)}, ${Math.max(...plateau)}]`
      if (o.json) {
        line(JSON.stringify({ points, best: top, ...(benchmark === undefined ? {} : { synthetic: benchmark, recommendation }), plot: file }))
        return
      }
      const names = p.axes.map((a) => a.name)
      line(`${p.survey}: ${points.length} points scored on ${source}`)
      line(
        table(
          [...names, "F1", "precision", "recall", ...categories.map((c) => `F1_${c}`)],
          points.map((pt) => [...names.map((n) => pt.params[n]), f3(pt.f1), f3(pt.precision), f3(pt.recall), ...categories.map((c) => f3(pt.categories[c].f1))])
        )
      )
      line(`best: ${Scoring.Grid.describe(top.params)}: F1 ${top.f1.toFixed(3)}, precision ${top.precision.toFixed(3)}, recall ${top.recall.toFixed(3)}${top.runId === undefined ? "" : ` (run ${top.runId})`}`)
      if (recommendation !== undefined) line(recommendation)
      line(`plot: ${file}`)
    })
).pipe(Command.withDescription("score a parameter grid against labelled spectra (--truth) or a synthetic benchmark matched to the cube (--synthetic)"))
