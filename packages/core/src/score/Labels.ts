/**
 * Labelled spectra: the true Gaussian components of some pixels of a cube, the truth a
 * decomposition is scored against (docs/tuning.md). Means and widths are in channels,
 * from 0, as the decomposer reports them.
 *
 * @since 0.1.0
 */
import { Effect, ParseResult, Schema } from "effect"
import { InvalidInput } from "../Errors.js"

/**
 * One Gaussian A · exp(−(i − mean)² / (2 stddev²)).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Component = Schema.Struct({
  amplitude: Schema.Number.pipe(Schema.finite(), Schema.positive()),
  mean: Schema.Number.pipe(Schema.finite()),
  stddev: Schema.Number.pipe(Schema.finite(), Schema.positive())
})
export type Component = typeof Component.Type

/**
 * A labelled pixel: its true components (none: a noise-only spectrum) and an optional
 * category that the figures are broken down by.
 *
 * @since 0.1.0
 * @category schemas
 */
export const LabelledSpectrum = Schema.Struct({
  x: Schema.Int.pipe(Schema.nonNegative()),
  y: Schema.Int.pipe(Schema.nonNegative()),
  category: Schema.optional(Schema.String.pipe(Schema.minLength(1))),
  components: Schema.Array(Component)
})
export type LabelledSpectrum = typeof LabelledSpectrum.Type

/**
 * A label file. Other top-level keys (a generator's metadata) are allowed and ignored;
 * `categories`, when given, orders the per-category figures.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Labels = Schema.Struct(
  {
    spectra: Schema.Array(LabelledSpectrum).pipe(Schema.minItems(1, { message: () => "expected at least one labelled spectrum" })),
    categories: Schema.optional(Schema.Array(Schema.String))
  },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
)
export type Labels = typeof Labels.Type

/** The label used for spectra that carry no category. */
export const NO_CATEGORY = "all"

/** A pixel's key in maps of spectra. */
export const pixelKey = (x: number, y: number): string => `${x},${y}`

const issueText = (e: ParseResult.ParseError): string => {
  const first = ParseResult.ArrayFormatter.formatErrorSync(e)[0]
  if (first === undefined) return "not the documented format"
  const where = first.path.length > 0 ? `${first.path.map(String).join(".")}: ` : ""
  const text = `${where}${first.message}`.replace(/\s+/g, " ")
  return text.length > 200 ? `${text.slice(0, 199)}…` : text
}

/**
 * Decodes a label file's text; anything not in the documented format (not JSON, missing or
 * extra fields in a spectrum, non-positive widths, a pixel labelled twice) is `InvalidInput`
 * naming the file and the first problem, in one line.
 *
 * @since 0.1.0
 * @category constructors
 */
export const decode = (text: string, file: string): Effect.Effect<Labels, InvalidInput> =>
  Effect.gen(function* () {
    const fail = (why: string) =>
      Effect.fail(new InvalidInput({ reason: `${file}: ${why} (the label format is in docs/tuning.md)` }))
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (e) {
      const why = (e instanceof Error ? e.message : String(e)).replace(/\s+/g, " ")
      return yield* fail(`not JSON: ${why.length > 120 ? `${why.slice(0, 119)}…` : why}`)
    }
    if (typeof json !== "object" || json === null || Array.isArray(json)) return yield* fail(`expected an object {"spectra": [...]}`)
    const labels = yield* Schema.decodeUnknown(Labels, { onExcessProperty: "error" })(json).pipe(
      Effect.catchAll((e) => fail(issueText(e)))
    )
    const seen = new Set<string>()
    for (const s of labels.spectra) {
      const key = pixelKey(s.x, s.y)
      if (seen.has(key)) return yield* fail(`pixel (${s.x}, ${s.y}) is labelled twice`)
      seen.add(key)
    }
    return labels
  })

/**
 * Checks that every labelled pixel is in a cube of `nx` × `ny` pixels and `nChannels`
 * channels, and every labelled mean within its channels (a mean past the last channel is
 * usually a velocity given where a channel was meant).
 *
 * @since 0.1.0
 * @category validation
 */
export const checkAgainstCube = (
  labels: Labels,
  cube: { readonly nx: number; readonly ny: number; readonly nChannels: number },
  file: string
): Effect.Effect<void, InvalidInput> =>
  Effect.suspend(() => {
    for (const s of labels.spectra) {
      if (s.x >= cube.nx || s.y >= cube.ny)
        return Effect.fail(
          new InvalidInput({
            reason: `${file}: pixel (${s.x}, ${s.y}) is outside the cube: x is 0..${cube.nx - 1}, y is 0..${cube.ny - 1}`
          })
        )
      for (const c of s.components) {
        if (c.mean < 0 || c.mean > cube.nChannels - 1)
          return Effect.fail(
            new InvalidInput({
              reason: `${file}: pixel (${s.x}, ${s.y}) has a component at mean ${c.mean}, outside the cube's channels 0..${cube.nChannels - 1} (means are in channels)`
            })
          )
      }
    }
    return Effect.void
  })

/**
 * The categories in report order: the file's `categories`, then any others in order of
 * first appearance.
 *
 * @since 0.1.0
 * @category utils
 */
export const categoriesOf = (labels: Labels): ReadonlyArray<string> => {
  const out = [...(labels.categories ?? [])]
  for (const s of labels.spectra) {
    const c = s.category ?? NO_CATEGORY
    if (!out.includes(c)) out.push(c)
  }
  return out
}
