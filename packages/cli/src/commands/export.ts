/**
 * `phs export RUN --fits DIR`: maps of a run as 2-D FITS images (BITPIX -32) with the
 * cube's spatial WCS: by default n_components, rms and the integrated intensity
 * Σ A·σ·√(2π) (cube units × channels); NaN where a pixel has no value (blank spectrum,
 * deferred, missing).
 *
 * `phs export --survey NAME --fits DIR` (or `--runs A,B,…`): one mosaic per quantity of the
 * survey's tiles on their common grid (core `Mosaic`, docs/results.md "Mosaics"), with the
 * grid's WCS; by default every physical quantity of `Mosaic.Quantities`.
 */
import { Args, Command, Options } from "@effect/cli"
import { Errors, Mosaic } from "@phs/core"
import { Dirs } from "@phs/runtime-local"
import { Effect, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { line } from "../Output.js"
import * as FitsImage from "../plot/FitsImage.js"
import * as Maps from "../plot/Maps.js"
import * as RunData from "../plot/RunData.js"
import * as Survey from "../plot/Survey.js"
import { onTarget, targetOptions } from "./shared.js"

/** What `phs export RUN` writes unless --value says otherwise. */
export const DEFAULT_VALUES: ReadonlyArray<Maps.MapValueName> = ["n_components", "rms", "integrated"]

/** What `phs export --survey` writes unless --value says otherwise: the mosaic quantities. */
export const DEFAULT_MOSAIC_VALUES: ReadonlyArray<Maps.MapValueName> = Mosaic.Quantities.QUANTITY_NAMES

/** The file of one exported map (of a run, or of a mosaic named after its survey). */
export const fitsFile = (dir: string, name: string, value: Maps.MapValueName): string => path.join(dir, `${name}-${value}.fits`)

/** A unit as a FITS unit string: a spectral channel is a pixel of axis 3. */
const fitsUnit = (unit: string | undefined) => unit?.replace(/\bchannel\b/g, "pix")

const NO_VALUE = "NaN where the pixel has no value (blank spectrum, deferred or missing)."

/** Writes one map, creating its directory first (only once there is something to write). */
const writeFile = (file: string, bytes: Uint8Array) =>
  Effect.try({
    try: () => Dirs.makeDirsSync(path.dirname(file)),
    catch: (e) => new Errors.InvalidInput({ reason: e instanceof Dirs.DirError ? e.message : `cannot create ${path.dirname(file)}: ${String(e)}` })
  }).pipe(
    Effect.zipRight(Effect.try({
    try: () => fs.writeFileSync(file, bytes),
    catch: (e) => new Errors.InvalidInput({ reason: `cannot write ${file}: ${e instanceof Error ? e.message : String(e)}` })
    })),
    Effect.tap(() => line(file))
  )

const exportRun = (runId: string, dir: string, values: ReadonlyArray<Maps.MapValueName>) =>
  Effect.gen(function* () {
    const { run, header, rows } = yield* RunData.load(runId)
    const bunit = typeof header.cards.BUNIT === "string" && header.cards.BUNIT.trim() !== "" ? header.cards.BUNIT.trim() : undefined
    for (const value of values.length > 0 ? values : DEFAULT_VALUES) {
      const bytes = FitsImage.write({
        nx: run.nx,
        ny: run.ny,
        data: Maps.image(run, rows, value),
        cube: header,
        btype: value,
        bunit: fitsUnit(Maps.MAP_VALUES[value].unit(bunit)),
        comments: [
          `phs run ${run.runId} (survey ${run.survey}): ${Maps.MAP_VALUES[value].doc}.`,
          NO_VALUE,
          ...(value === "integrated" ? ["Integrated intensity in cube units x spectral channels (pix)."] : [])
        ]
      })
      yield* writeFile(fitsFile(dir, run.runId, value), bytes)
    }
  })

const exportMosaic = (selection: Parameters<typeof Survey.load>[0], dir: string, values: ReadonlyArray<Maps.MapValueName>) =>
  Effect.gen(function* () {
    const s = yield* Survey.load(selection)
    const { grid } = s
    const tiles = grid.tiles.map((t, k) => `${s.runs[k].runId} at (${t.dx}, ${t.dy})`)
    for (const value of values.length > 0 ? values : DEFAULT_MOSAIC_VALUES) {
      const image = Maps.stitch(grid, s.rows, value)
      const bytes = FitsImage.write({
        nx: grid.nx,
        ny: grid.ny,
        data: image,
        cube: grid,
        btype: value,
        bunit: fitsUnit(Maps.MAP_VALUES[value].unit(s.bunit)),
        comments: [
          `phs mosaic ${s.label} of ${grid.tiles.length} tiles: ${Maps.MAP_VALUES[value].doc}.`,
          `Tiles (pixel offsets on this grid; an overlapped pixel is the first tile's): ${tiles.join(", ")}.`,
          NO_VALUE
        ]
      })
      yield* writeFile(fitsFile(dir, s.label, value), bytes)
    }
  })

export const exportCommand = Command.make(
  "export",
  {
    runId: Args.text({ name: "run" }).pipe(Args.withDescription("run id (a unique prefix will do); or --survey / --runs for a mosaic"), Args.optional),
    survey: Options.text("survey").pipe(Options.withDescription("write the mosaic of this survey's tiles (the newest completed run of each cube)"), Options.optional),
    runs: Options.text("runs").pipe(Options.withDescription("write the mosaic of these runs, comma-separated (one per tile)"), Options.optional),
    fits: Options.directory("fits").pipe(Options.withDescription("directory to write the FITS images to (created if missing)")),
    values: Options.choice("value", Maps.MAP_VALUE_NAMES).pipe(
      Options.withDescription(
        `a map to write, repeatable (default: ${DEFAULT_VALUES.join(", ")}; for a mosaic ${DEFAULT_MOSAIC_VALUES.join(", ")}); one of ${Maps.MAP_VALUE_NAMES.join(", ")}`
      ),
      Options.repeated
    ),
    ...targetOptions
  },
  (o) =>
    Effect.gen(function* () {
      const chosen = [Option.isSome(o.runId), Option.isSome(o.survey), Option.isSome(o.runs)].filter(Boolean).length
      if (chosen !== 1) return yield* Effect.fail(new Errors.InvalidInput({ reason: "phs export takes one of RUN, --survey NAME or --runs A,B,…" }))
      const values = [...new Set(o.values)]
      const work = Option.isSome(o.runId)
        ? exportRun(o.runId.value, o.fits, values)
        : exportMosaic(
          Option.isSome(o.survey) ? { survey: o.survey.value } : { runIds: Option.getOrThrow(o.runs).split(",").map((r) => r.trim()).filter((r) => r !== "") },
          o.fits,
          values
        )
      yield* onTarget(o, "read")(work)
    })
).pipe(Command.withDescription("write maps of a run, or the mosaic of a survey's tiles, as FITS images with the WCS in the header"))
