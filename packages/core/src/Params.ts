/**
 * Run parameters and manifests: what a user may set, checked before anything is created.
 *
 * @since 0.1.0
 */
import * as Native from "@phs/fit-native"
import { Effect, ParseResult, Schema } from "effect"
import { isSafeKey } from "./BlobStore.js"
import { InvalidInput } from "./Errors.js"
import { hashValue } from "./internal/canonical.js"

/**
 * Parameters of a run: the decomposer's (ALGORITHM.md) plus the pipeline's budget.
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
        return Effect.fail(new InvalidInput({ reason: `timeout_ms must be a number of milliseconds in [1, 900000], got ${JSON.stringify(timeout_ms)}` }))
      timeoutMs = timeout_ms
    }
    try {
      return Effect.succeed({ ...Native.validateParams(fit), timeout_ms: timeoutMs })
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e)
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
 * The manifest that starts a run (the aws trigger; also what `phs pipeline` builds locally).
 *
 * @since 0.1.0
 * @category models
 */
export const Manifest = Schema.Struct({
  cube_key: Schema.String.pipe(
    Schema.filter((k) => (k.startsWith("cubes/") && isSafeKey(k)) || "cube_key must be a key under cubes/ without .. or empty segments")
  ),
  survey: Survey,
  params: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Unknown }), { default: () => ({}) }),
  chunk_size: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 100_000)), { default: () => DEFAULT_CHUNK_SIZE })
})
export type Manifest = typeof Manifest.Type

/**
 * Decodes a manifest (parsed JSON), with one readable line on failure.
 *
 * @since 0.1.0
 * @category constructors
 */
export const decodeManifest = (json: unknown): Effect.Effect<Manifest, InvalidInput> =>
  Schema.decodeUnknown(Manifest, { onExcessProperty: "error" })(json).pipe(
    Effect.mapError((e) => new InvalidInput({ reason: `bad manifest: ${oneLine(e)}` }))
  )

/**
 * Decodes a survey name.
 *
 * @since 0.1.0
 * @category constructors
 */
export const decodeSurvey = (name: string): Effect.Effect<string, InvalidInput> =>
  Schema.decodeUnknown(Survey)(name).pipe(Effect.mapError(() => new InvalidInput({ reason: `bad survey name ${JSON.stringify(name)}: a survey name is 1-63 characters of a-z, 0-9, _ and -, starting with a letter or digit` })))

const oneLine = (e: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(e)
    .map((i) => (i.path.length > 0 ? `${i.path.join(".")}: ${i.message}` : i.message))
    .join("; ")

/**
 * The run id: derived from everything that determines the result (cube content, survey,
 * parameters, chunking, code version), so starting the same run again finds it.
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
}): string => `${what.survey}-${hashValue(what).slice(0, 16)}`
