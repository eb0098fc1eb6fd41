/**
 * Hand labels: the components a person accepted (or fitted by hand) per pixel of a cube,
 * kept in a JSON file in the format `phs tune --truth` reads (means and widths in channels):
 * `{"spectra":[{"cube"?,"x","y","category"?,"components":[{"amplitude","mean","stddev"}]}]}`.
 * `cube` is the run table's cube key (survey and content hash), so one file can hold the
 * labels of several cubes; a label without one (a file from before) belongs to the
 * `legacyCube` given to the layer, the workdir's only cube, or else to none (docs/viewer.md).
 * Every change is written at once (write a temporary file, then rename), so a crash loses
 * nothing but the change in flight.
 */
import { Scoring } from "@phs/core"
import { Context, Effect, Layer, Ref, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { BadRequest } from "./ViewErrors.js"

/** One labelled component and spectrum: core's label format, the one `phs tune --truth` decodes. */
export const Component = Scoring.Labels.Component
export type Component = typeof Component.Type
export const LabelledSpectrum = Scoring.Labels.LabelledSpectrum
export type LabelledSpectrum = typeof LabelledSpectrum.Type

/** The file as the viewer keeps it: possibly still empty (tune needs one spectrum or more). */
/** A label as the viewer stores it: core's, with the cube it was made on. */
export const CubeLabel = Schema.Struct({ cube: Schema.optional(Schema.String.pipe(Schema.minLength(1))), ...LabelledSpectrum.fields })
export type CubeLabel = typeof CubeLabel.Type

export const LabelFile = Schema.Struct({ spectra: Schema.Array(CubeLabel) })
export type LabelFile = typeof LabelFile.Type

/** A label file that cannot be read back. */
export class LabelFileError extends Schema.TaggedError<LabelFileError>()("LabelFileError", { message: Schema.String }) {}

export class Labels extends Context.Tag("@phs/cli/view/Labels")<
  Labels,
  {
    readonly file: string
    readonly all: Effect.Effect<LabelFile>
    /** The labels of one cube (by its cube key). */
    readonly ofCube: (cube: string) => Effect.Effect<ReadonlyArray<LabelledSpectrum>>
    /** Sets (replaces) the label of a pixel of a cube. */
    readonly put: (cube: string, label: LabelledSpectrum) => Effect.Effect<void, BadRequest>
    /** Removes the label of a pixel of a cube; whether there was one. */
    readonly remove: (cube: string, x: number, y: number) => Effect.Effect<boolean, BadRequest>
  }
>() {}

const decodeFile = Schema.decodeUnknownEither(Schema.parseJson(LabelFile))

/** Reads an existing label file (none yet: empty). */
export const read = (file: string): Effect.Effect<LabelFile, LabelFileError> =>
  Effect.gen(function* () {
    if (!fs.existsSync(file)) return { spectra: [] }
    const text = yield* Effect.try({
      try: () => fs.readFileSync(file, "utf8"),
      catch: (e) => new LabelFileError({ message: `cannot read ${file}: ${e instanceof Error ? e.message : String(e)}` })
    })
    const decoded = decodeFile(text)
    if (decoded._tag === "Left") {
      return yield* Effect.fail(new LabelFileError({ message: `${file} is not a label file ({"spectra":[{"x","y","components":[…]}]}): ${decoded.left.message.split("\n")[0]}` }))
    }
    return decoded.right
  })

const write = (file: string, content: LabelFile) =>
  Effect.try({
    try: () => {
      fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true })
      const tmp = `${file}.${process.pid}.tmp`
      fs.writeFileSync(tmp, `${JSON.stringify(content, null, 1)}\n`)
      fs.renameSync(tmp, file)
    },
    catch: (e) => new BadRequest({ message: `cannot write ${file}: ${e instanceof Error ? e.message : String(e)}` })
  })

const byPixel = (a: CubeLabel, b: CubeLabel) => (a.cube ?? "").localeCompare(b.cube ?? "") || a.y - b.y || a.x - b.x

/** Whether a stored label is one of `cube`'s: its own cube, or none and `cube` is the legacy owner. */
export const belongsTo = (label: CubeLabel, cube: string, legacyCube: string | undefined): boolean =>
  label.cube === undefined ? legacyCube === cube : label.cube === cube

const withoutCube = ({ cube: _, ...rest }: CubeLabel): LabelledSpectrum => rest

/**
 * The labels of one cube out of a label file's parsed JSON, as core's decoder takes them
 * (`phs tune --truth`): labels of other cubes are dropped; labels without a cube are kept
 * (the file was given for this cube) unless the cube has its own label of the same pixel.
 * Anything not shaped like a label file is returned as is, for the decoder to report.
 */
export const truthOf = (json: unknown, cube: string): { readonly json: unknown; readonly others: number } => {
  if (typeof json !== "object" || json === null || !("spectra" in json) || !Array.isArray(json.spectra)) return { json, others: 0 }
  const spectra: ReadonlyArray<unknown> = json.spectra
  const cubeOf = (s: unknown) => (typeof s === "object" && s !== null && "cube" in s ? s.cube : undefined)
  const pixelOf = (s: unknown) => (typeof s === "object" && s !== null && "x" in s && "y" in s ? `${String(s.x)},${String(s.y)}` : "")
  const own = new Set(spectra.filter((s) => cubeOf(s) === cube).map(pixelOf))
  const kept = spectra
    .filter((s) => cubeOf(s) === cube || (cubeOf(s) === undefined && !own.has(pixelOf(s))))
    .map((s) => {
      if (typeof s !== "object" || s === null || !("cube" in s)) return s
      const { cube: _, ...rest } = s
      return rest
    })
  return { json: { ...json, spectra: kept }, others: spectra.filter((s) => cubeOf(s) !== undefined && cubeOf(s) !== cube).length }
}

/** The label service over a file, continuing from what it holds. */
export const layer = (file: string, legacyCube?: string) =>
  Layer.effect(
    Labels,
    Effect.gen(function* () {
      const state = yield* Ref.make(yield* read(file))
      const lock = yield* Effect.makeSemaphore(1)
      const change = (f: (l: LabelFile) => LabelFile) =>
        lock.withPermits(1)(
          Effect.gen(function* () {
            const next = f(yield* Ref.get(state))
            yield* write(file, next)
            yield* Ref.set(state, next)
          })
        )
      const at = (cube: string, x: number, y: number) => (s: CubeLabel) => s.x === x && s.y === y && belongsTo(s, cube, legacyCube)
      const ofCube = (cube: string) =>
        Effect.map(Ref.get(state), (l) => {
          const mine = l.spectra.filter((s) => belongsTo(s, cube, legacyCube))
          // a legacy label the cube has since relabelled is hidden by the cube's own
          return mine.filter((s) => s.cube !== undefined || !mine.some((t) => t.cube !== undefined && t.x === s.x && t.y === s.y)).map(withoutCube)
        })
      return {
        file,
        all: Ref.get(state),
        ofCube,
        put: (cube, label) =>
          change((l) => ({ spectra: [...l.spectra.filter((s) => !at(cube, label.x, label.y)(s)), { cube, ...label }].sort(byPixel) })),
        remove: (cube, x, y) =>
          Effect.gen(function* () {
            const had = (yield* Ref.get(state)).spectra.some(at(cube, x, y))
            if (had) yield* change((l) => ({ spectra: l.spectra.filter((s) => !at(cube, x, y)(s)) }))
            return had
          })
      }
    })
  )
