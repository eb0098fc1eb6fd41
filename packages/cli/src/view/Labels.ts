/**
 * Hand labels: the components a person accepted (or fitted by hand) per pixel, kept in a
 * JSON file in the format `phs tune --truth` reads (means and widths in channels):
 * `{"spectra":[{"x","y","category"?,"components":[{"amplitude","mean","stddev"}]}]}`.
 * Every change is written at once (write a temporary file, then rename), so a crash loses
 * nothing but the change in flight.
 */
import { Scoring } from "@phs/core"
import { Dirs } from "@phs/runtime-local"
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
export const LabelFile = Schema.Struct({ spectra: Schema.Array(LabelledSpectrum) })
export type LabelFile = typeof LabelFile.Type

/** A label file that cannot be read back. */
export class LabelFileError extends Schema.TaggedError<LabelFileError>()("LabelFileError", { message: Schema.String }) {}

export class Labels extends Context.Tag("@phs/cli/view/Labels")<
  Labels,
  {
    readonly file: string
    readonly all: Effect.Effect<LabelFile>
    /** Sets (replaces) the label of a pixel. */
    readonly put: (label: LabelledSpectrum) => Effect.Effect<void, BadRequest>
    /** Removes the label of a pixel; whether there was one. */
    readonly remove: (x: number, y: number) => Effect.Effect<boolean, BadRequest>
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
      Dirs.makeDirsSync(path.dirname(path.resolve(file)))
      const tmp = `${file}.${process.pid}.tmp`
      fs.writeFileSync(tmp, `${JSON.stringify(content, null, 1)}\n`)
      fs.renameSync(tmp, file)
    },
    catch: (e) => new BadRequest({ message: e instanceof Dirs.DirError ? e.message : `cannot write ${file}: ${e instanceof Error ? e.message : String(e)}` })
  })

const byPixel = (a: LabelledSpectrum, b: LabelledSpectrum) => a.y - b.y || a.x - b.x

/** The label service over a file, continuing from what it holds. */
export const layer = (file: string) =>
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
      return {
        file,
        all: Ref.get(state),
        put: (label) =>
          change((l) => ({ spectra: [...l.spectra.filter((s) => s.x !== label.x || s.y !== label.y), label].sort(byPixel) })),
        remove: (x, y) =>
          Effect.gen(function* () {
            const had = (yield* Ref.get(state)).spectra.some((s) => s.x === x && s.y === y)
            if (had) yield* change((l) => ({ spectra: l.spectra.filter((s) => s.x !== x || s.y !== y) }))
            return had
          })
      }
    })
  )
