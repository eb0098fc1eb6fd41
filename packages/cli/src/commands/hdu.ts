/**
 * `--hdu N`, as every command that reads a cube takes it (pipeline, sweep, tune, cost): the
 * option, the header check that refuses a bad N in one line naming it, and the note saying
 * which HDU the cube was read from.
 */
import { Options } from "@effect/cli"
import { Errors, Fits } from "@phs/core"
import { LocalRun } from "@phs/runtime-local"
import { Effect, Option } from "effect"

export const hdu = Options.integer("hdu").pipe(
  Options.withDescription("the HDU holding the cube (0 = primary, n = the n-th extension); default: the first HDU holding a 3-D image"),
  Options.optional
)

/** The cube's header from the HDU `--hdu` names (default: the first 3-D image); a bad N is `InvalidInput` starting `--hdu N: `. */
export const checkCube = (file: string, n: Option.Option<number>): Effect.Effect<Fits.CubeHeader, Errors.InvalidInput> =>
  LocalRun.checkCube(file, Fits.hduOptions(Option.getOrUndefined(n))).pipe(
    Effect.mapError((e) => (Option.isSome(n) ? new Errors.InvalidInput({ reason: `--hdu ${n.value}: ${e.reason}` }) : e))
  )

/** "the cube is in HDU 2 (image extension "SCI")" when it is not the primary or `--hdu` named it; none otherwise. */
export const hduNote = (header: Fits.CubeHeader, n: Option.Option<number>): Option.Option<string> =>
  header.hdu > 0 || Option.isSome(n) ? Option.some(`the cube is in ${Fits.describeHdu(header)}`) : Option.none()
