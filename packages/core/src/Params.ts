/**
 * Run parameters and manifests: what a user may set, checked before anything is created.
 *
 * @since 0.1.0
 */
import * as Native from "@phs/fit-native"
import { Effect, ParseResult, Schema } from "effect"
import { isSafeKey } from "./BlobStore.js"
import { InvalidInput } from "./Errors.js"
import * as Keys from "./Keys.js"
import { hashValue } from "./internal/canonical.js"

/**
 * Parameters of a run: the decomposer's (docs/algorithm.md, "Parameters") plus the pipeline's budget.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunParams extends Native.FitParams {
  /** Per-spectrum time budget of the fit stage, ms (over it: deferred to slow-fit). */
  readonly timeout_ms: number
}

/**
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_TIMEOUT_MS = 5000
export const DEFAULT_CHUNK_SIZE = 500
/** The most spectra a chunk holds. */
export const MAX_CHUNK_SIZE = 100_000

/**
 * Every parameter a user may set, with its default, for help texts and errors.
 *
 * @since 0.1.0
 * @category constants
 */
export const describeParams = (): string =>
  [
    ...Object.entries(Native.DEFAULT_PARAMS).map(([k, v]) => `${k} (default ${v})`),
    `timeout_ms (default ${DEFAULT_TIMEOUT_MS})`
  ].join(", ")

/**
 * Error text quotes user input (parameter names, values, manifest keys): control characters
 * are shown as `\uNNNN` so that a reason stays one line.
 */
// eslint-disable-next-line no-control-regex
const printable = (text: string): string =>
  text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

/** A value as JSON for an error message; never throws (bigint, cycles), at most 80 characters. */
const show = (value: unknown): string => {
  let text: string
  try {
    text = JSON.stringify(value) ?? typeof value
  } catch {
    text = typeof value
  }
  return printable(text.length > 80 ? `${text.slice(0, 77)}...` : text)
}

/**
 * Resolves user parameters over the defaults; unknown names and bad values are
 * `InvalidInput` naming the valid ones.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolve = (input: Readonly<Record<string, unknown>>): Effect.Effect<RunParams, InvalidInput> =>
  Effect.suspend(() => {
    const { timeout_ms, ...fit } = input
    let timeoutMs = DEFAULT_TIMEOUT_MS
    if (timeout_ms !== undefined) {
      if (typeof timeout_ms !== "number" || !Number.isFinite(timeout_ms) || timeout_ms < 1 || timeout_ms > 900_000)
        return Effect.fail(new InvalidInput({ reason: `timeout_ms must be a number of milliseconds in [1, 900000], got ${show(timeout_ms)}` }))
      timeoutMs = timeout_ms
    }
    try {
      return Effect.succeed({ ...Native.validateParams(fit), timeout_ms: timeoutMs })
    } catch (e) {
      const reason = printable(e instanceof Error ? e.message : String(e))
      return Effect.fail(new InvalidInput({ reason: `${reason}${reason.includes("timeout_ms") ? "" : " (the pipeline also takes timeout_ms)"}` }))
    }
  })

/**
 * The fit parameters of a run (the decomposer's part).
 *
 * @since 0.1.0
 * @category utils
 */
export const fitParams = (p: RunParams): Native.FitParams => {
  const { timeout_ms: _unused, ...fit } = p
  return fit
}

/**
 * Survey names: lower case, digits, `_` and `-`, 1–63 characters, starting alphanumeric.
 *
 * @since 0.1.0
 * @category models
 */
export const Survey = Schema.String.pipe(
  Schema.pattern(/^[a-z0-9][a-z0-9_-]{0,62}$/, {
    message: () => "a survey name is 1-63 characters of a-z, 0-9, _ and -, starting with a letter or digit"
  })
)

/**
 * A cube's file name as a run records it for people (its basename): 1–255 characters, no `/`
 * and no control character, so that it prints on one line.
 *
 * @since 0.3.0
 * @category models
 */
export const CubeName = Schema.String.pipe(
  Schema.filter((s) => (s.length >= 1 && s.length <= 255 && !/[/\u0000-\u001f\u007f]/.test(s)) || "cube_name is a file name: 1-255 characters, no / and no control characters")
)

/**
 * `--refit` modes: `none` (the default) or `spatial`, the coherent refit (docs/fan-out-stages.md).
 *
 * @since 0.2.0
 * @category constants
 */
export const REFIT_MODES = ["none", "spatial"] as const
export type RefitMode = (typeof REFIT_MODES)[number]

/**
 * A `--refit` mode as manifests, split inputs and run records carry it.
 *
 * @since 0.3.0
 * @category models
 */
export const Refit = Schema.Literal(...REFIT_MODES)

/**
 * The manifest that starts a run (the aws trigger; also what `phs pipeline` builds locally).
 *
 * @since 0.1.0
 * @category models
 */
export const Manifest = Schema.Struct({
  cube_key: Schema.String.pipe(
    Schema.filter((k) => (k.startsWith(Keys.PREFIXES.cubes) && isSafeKey(k)) || `cube_key must be a key under ${Keys.PREFIXES.cubes} without .. or empty segments`)
  ),
  survey: Survey,
  params: Schema.optionalWith(
    Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations({
      message: (issue) => `expected an object of parameter values such as {"beta": 3.5}, got ${show(issue.actual)}`
    }),
    { default: () => ({}) }
  ),
  chunk_size: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, MAX_CHUNK_SIZE)), { default: () => DEFAULT_CHUNK_SIZE }),
  refit: Schema.optionalWith(Refit, { default: () => "none" as const }),
  /** The HDU holding the cube (0 = primary); absent: the first HDU holding a 3-D image. */
  hdu: Schema.optional(Schema.Int.pipe(Schema.nonNegative({ message: () => "hdu is an HDU number, 0 for the primary" }))),
  /** The cube's file name, for people (absent: output names the cube by its key). Not part of the run id. */
  cube_name: Schema.optional(CubeName)
})
export type Manifest = typeof Manifest.Type

/**
 * Decodes a manifest (parsed JSON), with one readable line on failure.
 *
 * @since 0.1.0
 * @category constructors
 */
export const decodeManifest = (json: unknown): Effect.Effect<Manifest, InvalidInput> =>
  Effect.suspend(() => {
    if (typeof json !== "object" || json === null || Array.isArray(json)) {
      return Effect.fail(new InvalidInput({ reason: `bad manifest: expected a JSON object, got ${show(json)}` }))
    }
    // Decoding a record assigns `__proto__` (which JSON.parse makes an own key) as the
    // prototype: the unknown parameter would vanish instead of being refused.
    const params = (json as { readonly params?: unknown }).params
    if (typeof params === "object" && params !== null && Object.prototype.hasOwnProperty.call(params, "__proto__")) {
      return Effect.fail(new InvalidInput({ reason: `bad manifest: params: unknown parameter "__proto__"; valid parameters: ${describeParams()}` }))
    }
    return Schema.decodeUnknown(Manifest, { onExcessProperty: "error" })(json).pipe(
      Effect.mapError((e) => new InvalidInput({ reason: `bad manifest: ${oneLine(e)}` }))
    )
  })

/**
 * Decodes a survey name.
 *
 * @since 0.1.0
 * @category constructors
 */
export const decodeSurvey = (name: string): Effect.Effect<string, InvalidInput> =>
  Schema.decodeUnknown(Survey)(name).pipe(Effect.mapError(() => new InvalidInput({ reason: `bad survey name ${printable(JSON.stringify(name))}: a survey name is 1-63 characters of a-z, 0-9, _ and -, starting with a letter or digit` })))

const oneLine = (e: ParseResult.ParseError): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(e)
  // An optional field is `T | undefined` on the encoded side: drop the "Expected undefined"
  // alternative when the same field has another issue.
  const useful = issues.filter((i) =>
    !(i.message.startsWith("Expected undefined,") && issues.some((j) => j !== i && j.path.join("\0") === i.path.join("\0")))
  )
  return printable(useful.map((i) => clip(i.path.length > 0 ? `${i.path.map(String).join(".")}: ${i.message}` : i.message)).join("; "))
}

/** The formatter quotes the offending value whole; a huge one must not make a huge line. */
const clip = (text: string): string => (text.length > 240 ? `${text.slice(0, 239)}…` : text)

/**
 * The run id: derived from everything that determines the result (cube content, survey,
 * parameters, chunking, code version, refit mode), so starting the same run again finds it.
 * The refit mode is hashed only when it is not `none`, the HDU only when it is not the first
 * 3-D image (`hdu` absent): run ids from before `--refit` and `--hdu` stay.
 *
 * @since 0.1.0
 * @category constructors
 */
export const runId = (what: {
  readonly cubeSha256: string
  readonly survey: string
  readonly params: RunParams
  readonly chunkSize: number
  readonly codeVersion: string
  readonly refit?: RefitMode
  readonly hdu?: number
}): string => {
  const { refit, hdu, ...rest } = what
  const hashed = { ...rest, ...(refit === undefined || refit === "none" ? {} : { refit }), ...(hdu === undefined ? {} : { hdu }) }
  return `${what.survey}-${hashValue(hashed).slice(0, 16)}`
}
