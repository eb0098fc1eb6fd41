/**
 * `phs export RUN --fits DIR`: maps of a run as 2-D FITS images (BITPIX -32) with the
 * cube's spatial WCS: by default n_components, rms and the integrated intensity
 * Σ A·σ·√(2π) (cube units × channels); NaN where a pixel has no value (blank spectrum,
 * deferred, missing).
 */
import { Args, Command, Options } from "@effect/cli"
import { Errors } from "@phs/core"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { line } from "../Output.js"
import * as FitsImage from "../plot/FitsImage.js"
import * as Maps from "../plot/Maps.js"
import * as RunData from "../plot/RunData.js"
import { onTarget, targetOptions } from "./shared.js"

/** What `phs export` writes unless --value says otherwise. */
export const DEFAULT_VALUES: ReadonlyArray<Maps.MapValueName> = ["n_components", "rms", "integrated"]

/** The file of one exported map. */
export const fitsFile = (dir: string, runId: string, value: Maps.MapValueName): string => path.join(dir, `${runId}-${value}.fits`)

/** A unit as a FITS unit string: a spectral channel is a pixel of axis 3. */
const fitsUnit = (unit: string | undefined) => unit?.replace(/\bchannel\b/g, "pix")

export const exportCommand = Command.make(
  "export",
  {
    runId: Args.text({ name: "run" }).pipe(Args.withDescription("run id (a unique prefix will do)")),
    fits: Options.directory("fits").pipe(Options.withDescription("directory to write the FITS images to (created if missing)")),
    values: Options.choice("value", Maps.MAP_VALUE_NAMES).pipe(
      Options.withDescription(`a map to write, repeatable (default: ${DEFAULT_VALUES.join(", ")}); one of ${Maps.MAP_VALUE_NAMES.join(", ")}`),
      Options.repeated
    ),
    ...targetOptions
  },
  (o) =>
    onTarget(o, "read")(
      Effect.gen(function* () {
        const { run, header, rows } = yield* RunData.load(o.runId)
        const values = o.values.length > 0 ? [...new Set(o.values)] : DEFAULT_VALUES
        const bunit = typeof header.cards.BUNIT === "string" && header.cards.BUNIT.trim() !== "" ? header.cards.BUNIT.trim() : undefined
        yield* Effect.try({
          try: () => fs.mkdirSync(o.fits, { recursive: true }),
          catch: (e) => new Errors.InvalidInput({ reason: `cannot create ${o.fits}: ${e instanceof Error ? e.message : String(e)}` })
        })
        for (const value of values) {
          const file = fitsFile(o.fits, run.runId, value)
          const bytes = FitsImage.write({
            nx: run.nx,
            ny: run.ny,
            data: Maps.image(run, rows, value),
            cube: header,
            btype: value,
            bunit: fitsUnit(Maps.MAP_VALUES[value].unit(bunit)),
            comments: [
              `phs run ${run.runId} (survey ${run.survey}): ${Maps.MAP_VALUES[value].doc}.`,
              "NaN where the pixel has no value (blank spectrum, deferred or missing).",
              ...(value === "integrated" ? ["Integrated intensity in cube units x spectral channels (pix)."] : [])
            ]
          })
          yield* Effect.try({
            try: () => fs.writeFileSync(file, bytes),
            catch: (e) => new Errors.InvalidInput({ reason: `cannot write ${file}: ${e instanceof Error ? e.message : String(e)}` })
          })
          line(file)
        }
      })
    )
).pipe(Command.withDescription("write maps of a run (n_components, rms, integrated intensity) as FITS images with the cube's WCS"))
