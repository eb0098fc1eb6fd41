/**
 * `phs plot spectrum RUN X Y`, `phs plot map RUN --value V`, `phs plot summary RUN`:
 * pictures of a run's results, drawn with Vega-Lite (SVG, or PNG through resvg).
 */
import { Args, Command, Options } from "@effect/cli"
import { Errors } from "@phs/core"
import { Dirs } from "@phs/runtime-local"
import { Effect, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { line } from "../Output.js"
import * as Maps from "../plot/Maps.js"
import * as Render from "../plot/Render.js"
import * as RunData from "../plot/RunData.js"
import * as Specs from "../plot/Specs.js"
import * as Survey from "../plot/Survey.js"
import type * as Target from "../target/Target.js"
import { onTarget, targetOptions } from "./shared.js"
import type { TopLevelSpec } from "vega-lite"

const runId = Args.text({ name: "run" }).pipe(Args.withDescription("run id (a unique prefix will do)"))
const out = Options.file("out").pipe(
  Options.withDescription("file to write (.svg or .png); default RUN-<plot>….svg in the current directory"),
  Options.optional
)
const format = Options.choice("format", Render.FORMATS).pipe(
  Options.withDescription("svg or png (default: from --out's extension, else svg)"),
  Options.optional
)

const EXTENSIONS: Record<string, Render.ImageFormat> = { ".svg": "svg", ".png": "png" }

/** The file and format to write: --format, else --out's extension, else svg. */
export const resolveOutput = (
  outFile: Option.Option<string>,
  requested: Option.Option<Render.ImageFormat>,
  defaultBase: string
): Effect.Effect<{ readonly file: string; readonly format: Render.ImageFormat }, Errors.InvalidInput> => {
  if (Option.isNone(outFile)) {
    const f = Option.getOrElse(requested, () => "svg" as const)
    return Effect.succeed({ file: `${defaultBase}.${f}`, format: f })
  }
  const byExtension = EXTENSIONS[path.extname(outFile.value).toLowerCase()] as Render.ImageFormat | undefined
  if (Option.isSome(requested) && byExtension !== undefined && byExtension !== requested.value) {
    return Effect.fail(
      new Errors.InvalidInput({ reason: `--out ${outFile.value} is a .${byExtension} file but --format is ${requested.value}` })
    )
  }
  return Effect.succeed({ file: outFile.value, format: Option.getOrElse(requested, () => byExtension ?? "svg") })
}

/** Draws a spec to the chosen file and prints the file's path. */
const draw = (
  spec: TopLevelSpec,
  o: { readonly out: Option.Option<string>; readonly format: Option.Option<Render.ImageFormat> },
  defaultBase: string
) =>
  Effect.gen(function* () {
    const target = yield* resolveOutput(o.out, o.format, defaultBase)
    const bytes = yield* Render.render(spec, target.format)
    yield* Effect.try({
      try: () => {
        Dirs.makeDirsSync(path.dirname(path.resolve(target.file)))
        fs.writeFileSync(target.file, bytes)
      },
      catch: (e) => new Errors.InvalidInput({ reason: e instanceof Dirs.DirError ? e.message : `cannot write ${target.file}: ${e instanceof Error ? e.message : String(e)}` })
    })
    line(target.file)
  })

/** Runs a plot body against the target's services. */
const inWorkdir = <A, E>(o: Target.Options, body: Effect.Effect<A, E, Target.Services>) => onTarget(o, "read")(body)

/** What every picture takes: the run, where to write it, and the target. */
const picture = { runId, out, format, ...targetOptions }

export const spectrum = Command.make(
  "spectrum",
  {
    ...picture,
    x: Args.integer({ name: "x" }).pipe(Args.withDescription("pixel column, from 0")),
    y: Args.integer({ name: "y" }).pipe(Args.withDescription("pixel row, from 0"))
  },
  (o) =>
    inWorkdir(
      o,
      Effect.gen(function* () {
        const data = yield* RunData.load(o.runId)
        const { run, header } = data
        yield* RunData.checkPixel(run, o.x, o.y)
        const row = data.rows.find((r) => r.x === o.x && r.y === o.y)
        if (row === undefined) {
          return yield* Effect.fail(new Errors.InvalidInput({ reason: `run ${run.runId} has no row for pixel (${o.x}, ${o.y})` }))
        }
        const values = yield* RunData.spectrum(run, header, o.x, o.y)
        yield* draw(Specs.spectrum({ run, header, row, spectrum: values }), o, `${run.runId}-spectrum-${o.x}-${o.y}`)
      })
    )
).pipe(Command.withDescription("a spectrum with its Gaussian components, the model, the residual and a ±rms band"))

export const map = Command.make(
  "map",
  {
    ...picture,
    runId: runId.pipe(Args.optional),
    survey: Options.text("survey").pipe(Options.withDescription("the mosaic of this survey's tiles instead of one run (docs/results.md, Mosaics)"), Options.optional),
    value: Options.choice("value", Maps.MAP_VALUE_NAMES).pipe(
      Options.withDescription(`the quantity: ${Maps.MAP_VALUE_NAMES.map((n) => `${n} (${Maps.MAP_VALUES[n].doc})`).join("; ")}`),
      Options.withDefault("n_components" as Maps.MapValueName)
    )
  },
  (o) =>
    inWorkdir(
      o,
      Effect.gen(function* () {
        if (Option.isSome(o.survey) === Option.isSome(o.runId)) {
          return yield* Effect.fail(new Errors.InvalidInput({ reason: "phs plot map takes one of RUN or --survey NAME" }))
        }
        if (Option.isSome(o.survey)) {
          const s = yield* Survey.load({ survey: o.survey.value })
          const image = Maps.stitch(s.grid, s.rows, o.value)
          return yield* draw(Specs.map({ name: `survey ${s.label}`, nx: s.grid.nx, ny: s.grid.ny, image, header: s.grid, value: o.value }), o, `${s.label}-map-${o.value}`)
        }
        const { run, header, rows } = yield* RunData.load(Option.getOrThrow(o.runId))
        yield* draw(Specs.map({ name: run.runId, nx: run.nx, ny: run.ny, image: Maps.image(run, rows, o.value), header, value: o.value }), o, `${run.runId}-map-${o.value}`)
      })
    )
).pipe(Command.withDescription("an image of the field: one cell per pixel coloured by a per-pixel quantity, with a colour bar"))

export const summary = Command.make("summary", picture, (o) =>
  inWorkdir(
    o,
    Effect.gen(function* () {
      const { run, rows } = yield* RunData.load(o.runId)
      yield* draw(Specs.summary({ run, rows }), o, `${run.runId}-summary`)
    })
  )
).pipe(Command.withDescription("histograms of the component count, amplitude, width and rms"))

export const plot = Command.make("plot").pipe(
  Command.withDescription("pictures of a run's results (SVG or PNG)"),
  Command.withSubcommands([spectrum, map, summary])
)
