/**
 * @phs/fit-native — Gaussian decomposition of spectra (persistent-homology peaks + bounded
 * Levenberg–Marquardt + AICc-gated refinement) in a C++17 Node-API addon.
 *
 * @since 0.1.0
 */
import { availableParallelism } from "node:os"
import { createRequire } from "node:module"
import { resolve as resolvePath } from "node:path"

/**
 * The algorithm's parameters (docs/algorithm.md, "Parameters").
 *
 * @since 0.1.0
 * @category models
 */
export type FitParams = {
  /** persistence threshold in units of rms (default 3.5) */
  readonly beta: number
  /** minimum amplitude / rms for a component to survive (default 1.5) */
  readonly snr_min: number
  /** minimum matched-filter SNR (A / rms) · sqrt(σ) · π^¼ (default 5.0) */
  readonly mf_snr_min: number
  /** blended when |μi − μj| < f_sep · min(FWHMi, FWHMj) (default 1.2) */
  readonly f_sep: number
  /** a residual dip below −neg_thresh · rms triggers a split (default 5.0) */
  readonly neg_thresh: number
  /** refinement iterations at most (integer, default 3) */
  readonly max_refine_iter: number
}

/**
 * One Gaussian A · exp(−(i − mean)² / (2 stddev²)); mean and stddev in channels (0-based).
 *
 * @since 0.1.0
 * @category models
 */
export type Component = { amplitude: number; mean: number; stddev: number }

/**
 * "ok": fitted; "blank": no finite channel at all; "timeout": over the per-spectrum budget
 * (no components — defer it and refit without a budget).
 *
 * @since 0.1.0
 * @category models
 */
export type DecompositionStatus = "ok" | "blank" | "timeout"

/**
 * The result for one spectrum.
 *
 * - `rms`: the noise estimate in the data's units; null when the spectrum is blank (it is
 *   still reported for "timeout", as the noise is estimated before any fit).
 * - `minPersistence`: beta · rms; NaN when the spectrum is blank.
 * - `components`: sorted by mean; empty for "blank" and "timeout", and for spectra with
 *   fewer than 10 finite channels (those are not fitted, status "ok").
 * - `evaluations`: model evaluations over all fits (including the windowed fits of split seeds).
 * - `nanChannels`: non-finite input channels (NaN and ±Infinity are both treated as blank:
 *   zero weight in the fit, excluded from the noise and peak searches).
 * - Fit quality of `components` (of none, for a spectrum not fitted); null for "blank" and
 *   "timeout". N = finite channels, k = 3 × components, RSS = Σ (data − model)² over them,
 *   σ = the noise used in the fit (`rms`, at least 1e-7 of the largest |value|):
 *   `residualRms` √(RSS / N) in the data's units; `chi2Reduced` RSS / σ² / (N − k), null
 *   when N ≤ k or σ = 0; `aicc` the refinement's N ln(RSS / N) + 2k + (2k² + 2k)/(N − k − 1)
 *   in the data's units, null when N ≤ k + 1 or RSS = 0.
 * - `componentErrors`: one per component, same order — 1σ errors from the covariance
 *   σ² (JᵀJ)⁻¹ at the solution (see {@link ComponentErrors}).
 *
 * @since 0.1.0
 * @category models
 */
export type Decomposition = {
  rms: number | null
  minPersistence: number
  components: Component[]
  status: DecompositionStatus
  evaluations: number
  nanChannels: number
  residualRms: number | null
  chi2Reduced: number | null
  aicc: number | null
  componentErrors: ComponentErrors[]
}

/**
 * 1σ errors of one component's parameters (amplitude in the data's units, mean and stddev in
 * channels): √ of the diagonal of σ² (JᵀJ)⁻¹, J the model's Jacobian over the finite channels
 * at the solution and σ the noise used in the fit. NaN for a parameter at a bound of the fit
 * or with no effect on the model (held fixed), and for every parameter of a group of
 * components with overlapping windows whose JᵀJ is singular.
 *
 * @since 0.1.0
 * @category models
 */
export type ComponentErrors = { amplitude: number; mean: number; stddev: number }

/**
 * @since 0.1.0
 * @category models
 */
export type BatchOptions = {
  /**
   * at most this many of the process's pool threads work on this batch at once (integer ≥ 1;
   * default os.availableParallelism()). The pool itself is one per process, sized to the
   * cores and shared by every batch in flight; the results do not depend on either.
   */
  threads?: number
  /** per-spectrum budget in ms (default 5000; 0 or Infinity: no budget) */
  timeoutMs?: number
}

/**
 * The version of the native decomposer: package version + algorithm revision.
 *
 * @since 0.1.0
 */
export const NATIVE_VERSION = "0.1.0+alg.2"

/**
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_PARAMS: FitParams = Object.freeze({
  beta: 3.5,
  snr_min: 1.5,
  mf_snr_min: 5.0,
  f_sep: 1.2,
  neg_thresh: 5.0,
  max_refine_iter: 3
})

/**
 * A parameter's valid range: min ≤ value ≤ max (min excluded when `minExclusive`), and an
 * integer when `integer`.
 *
 * @since 0.1.0
 * @category models
 */
export type ParamRange = {
  readonly min: number
  readonly max: number
  readonly minExclusive: boolean
  readonly integer: boolean
}

/**
 * The documented valid ranges of every parameter.
 *
 * @since 0.1.0
 * @category constants
 */
export const PARAM_RANGES: { readonly [K in keyof FitParams]: ParamRange } = Object.freeze({
  beta: { min: 0, max: 100, minExclusive: true, integer: false },
  snr_min: { min: 0, max: 100, minExclusive: false, integer: false },
  mf_snr_min: { min: 0, max: 1000, minExclusive: false, integer: false },
  f_sep: { min: 0, max: 10, minExclusive: false, integer: false },
  neg_thresh: { min: 0, max: 1000, minExclusive: true, integer: false },
  max_refine_iter: { min: 0, max: 20, minExclusive: false, integer: true }
})

const PARAM_NAMES = Object.keys(DEFAULT_PARAMS) as ReadonlyArray<keyof FitParams>

const describeRange = (name: keyof FitParams): string => {
  const r = PARAM_RANGES[name]
  return `${name} ${r.integer ? "integer " : ""}${r.minExclusive ? "(" : "["}${r.min}, ${r.max}]`
}

/**
 * Invalid parameters: unknown names, wrong types, non-finite or out-of-range values.
 * `problems` lists each one; the message also lists every valid name and range.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidFitParams extends Error {
  readonly _tag = "InvalidFitParams"
  readonly problems: string[]
  constructor(problems: string[]) {
    super(
      `invalid fit parameters: ${problems.join("; ")}. ` +
        `Valid parameters: ${PARAM_NAMES.map(describeRange).join(", ")}`
    )
    this.name = "InvalidFitParams"
    this.problems = problems
  }
}

/**
 * Checks `input` (any subset of the parameters) and returns the complete parameters with
 * defaults filled in, or throws {@link InvalidFitParams}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const validateParams = (input: Record<string, unknown> = {}): FitParams => {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new InvalidFitParams(["parameters must be an object"])
  }
  const problems: string[] = []
  const out: Record<string, number> = { ...DEFAULT_PARAMS }
  for (const [name, value] of Object.entries(input)) {
    if (!(PARAM_NAMES as ReadonlyArray<string>).includes(name)) {
      problems.push(`unknown parameter "${name}"`)
      continue
    }
    if (value === undefined) continue
    const key = name as keyof FitParams
    const r = PARAM_RANGES[key]
    if (typeof value !== "number") {
      problems.push(`${name} must be a number, got ${value === null ? "null" : typeof value}`)
    } else if (!Number.isFinite(value)) {
      problems.push(`${name} must be finite, got ${value}`)
    } else if (r.integer && !Number.isInteger(value)) {
      problems.push(`${name} must be an integer, got ${value}`)
    } else if (value > r.max || value < r.min || (r.minExclusive && value === r.min)) {
      problems.push(`${name} = ${value} is out of range (${describeRange(key)})`)
    } else {
      out[name] = value
    }
  }
  if (problems.length > 0) throw new InvalidFitParams(problems)
  return out as FitParams
}

type NativeResult = { meta: Float64Array; components: Float64Array; errors: Float64Array }
type NativeBatchResult = { meta: Float64Array; offsets: Uint32Array; components: Float64Array; errors: Float64Array }
type NativeMultiResult = NativeBatchResult & { which: Uint32Array; minPersistence: Float64Array }
type NativeAddon = {
  decompose(spectrum: Float32Array | Float64Array, params: Float64Array, timeoutMs: number): NativeResult
  decomposeBatch(
    cube: Float32Array,
    nChannels: number,
    params: Float64Array,
    threads: number,
    timeoutMs: number
  ): Promise<NativeBatchResult>
  decomposeBatchMulti(
    cube: Float32Array,
    nChannels: number,
    paramSets: Float64Array,
    threads: number,
    timeoutMs: number
  ): Promise<NativeMultiResult>
  noise(spectrum: Float32Array | Float64Array): NoiseEstimate
  peaks(spectrum: Float32Array | Float64Array, threshold: number): Peak[]
  fit(spectrum: Float32Array | Float64Array, components: Float64Array, maxEvaluations: number, noise: number): NativeFit
  poolThreads(): number
}

/**
 * The addon binary: `build/Release/phs_fit.node`, or the file named by the environment
 * variable `PHS_FIT_NATIVE_PATH` (an absolute path, or relative to the working directory) —
 * e.g. the sanitizer build of `scripts/native-sanitize.sh`, or a development build.
 */
const addonPath = (): string => {
  const override = process.env.PHS_FIT_NATIVE_PATH
  return override ? resolvePath(override) : "../build/Release/phs_fit.node"
}

/** Every function the wrapper calls: an addon built before one of them was added lacks it. */
const ADDON_FUNCTIONS = ["decompose", "decomposeBatch", "decomposeBatchMulti", "noise", "peaks", "fit", "poolThreads"] as const satisfies ReadonlyArray<keyof NativeAddon>

/**
 * The loaded module as the addon, checked once at load: a binary older than this wrapper
 * is refused in one line naming what it lacks (rather than every call failing later with
 * "… is not a function").
 *
 * @since 0.2.0
 */
export const checkAddon = (module: unknown): NativeAddon => {
  const exported = typeof module === "object" && module !== null ? (module as Record<string, unknown>) : {}
  const missing = ADDON_FUNCTIONS.filter((name) => typeof exported[name] !== "function")
  if (missing.length > 0) throw new Error(`the native addon is out of date (missing ${missing.join(", ")}): run npm run build`)
  return module as NativeAddon
}

const addon = checkAddon(createRequire(import.meta.url)(addonPath()))

const STATUS: ReadonlyArray<DecompositionStatus> = ["ok", "blank", "timeout"]

/**
 * The most channels a spectrum may have.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_CHANNELS = 65536
const META = 8

const paramsArray = (p: FitParams): Float64Array =>
  Float64Array.of(p.beta, p.snr_min, p.mf_snr_min, p.f_sep, p.neg_thresh, p.max_refine_iter)

/** Triplets [from, to) of a flat array (3 per component) as amplitude, mean, stddev objects. */
const tripletsOf = (flat: Float64Array, from: number, to: number): Component[] => {
  const out: Component[] = new Array(to - from)
  for (let k = from; k < to; k++) {
    out[k - from] = { amplitude: flat[3 * k], mean: flat[3 * k + 1], stddev: flat[3 * k + 2] }
  }
  return out
}

const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null)

const decompositionOf = (r: NativeResult | NativeBatchResult, at: number, from: number, to: number): Decomposition => {
  const m = r.meta
  const rms = m[META * at + 1]
  return {
    rms: Number.isNaN(rms) ? null : rms,
    minPersistence: m[META * at + 2],
    components: tripletsOf(r.components, from, to),
    status: STATUS[m[META * at]],
    evaluations: m[META * at + 3],
    nanChannels: m[META * at + 4],
    residualRms: finiteOrNull(m[META * at + 5]),
    chi2Reduced: finiteOrNull(m[META * at + 6]),
    aicc: finiteOrNull(m[META * at + 7]),
    componentErrors: tripletsOf(r.errors, from, to)
  }
}

const checkTimeout = (timeoutMs: number): number => {
  if (typeof timeoutMs !== "number" || Number.isNaN(timeoutMs) || timeoutMs < 0) {
    throw new RangeError(`timeoutMs must be >= 0 or Infinity, got ${String(timeoutMs)}`)
  }
  return timeoutMs === Infinity ? 0 : timeoutMs
}

/**
 * Decomposes one spectrum synchronously (no time budget unless `timeoutMs` is given).
 * Throws {@link InvalidFitParams} for bad parameters.
 *
 * @since 0.1.0
 * @category decomposition
 */
export const decompose = (
  spectrum: Float32Array | Float64Array,
  params: Partial<FitParams> = {},
  options: { timeoutMs?: number } = {}
): Decomposition => {
  if (!(spectrum instanceof Float32Array) && !(spectrum instanceof Float64Array)) {
    throw new TypeError("spectrum must be a Float32Array or Float64Array")
  }
  if (spectrum.length > MAX_CHANNELS) throw new RangeError(`a spectrum has at most ${MAX_CHANNELS} channels`)
  const p = validateParams(params)
  const r = addon.decompose(spectrum, paramsArray(p), checkTimeout(options.timeoutMs ?? 0))
  return decompositionOf(r, 0, 0, r.components.length / 3)
}

/**
 * Threads of the decomposer's pool: one pool per process (per worker thread that loads the
 * addon), sized to the cores, started by the first call.
 *
 * @since 0.2.0
 * @category decomposition
 */
export const poolThreads = (): number => addon.poolThreads()

/**
 * Decomposes every spectrum of a spectrum-major cube [nSpectra][nChannels] on the process's
 * native thread pool (see {@link poolThreads}) without blocking the event loop or holding a
 * libuv thread; results in input order. The cube is copied,
 * so the caller may reuse it at once. A spectrum over `timeoutMs` comes back with status
 * "timeout". Rejects with {@link InvalidFitParams} for bad parameters.
 *
 * @since 0.1.0
 * @category decomposition
 */
export const decomposeBatch = async (
  cube: Float32Array,
  nChannels: number,
  params: Partial<FitParams> = {},
  options: BatchOptions = {}
): Promise<Decomposition[]> => {
  const { threads, timeoutMs } = checkBatch(cube, nChannels, options)
  const p = validateParams(params)
  const n = cube.length / nChannels
  if (n === 0) return []
  const r = await addon.decomposeBatch(cube, nChannels, paramsArray(p), threads, timeoutMs)
  const out: Decomposition[] = new Array(n)
  for (let s = 0; s < n; s++) {
    out[s] = decompositionOf(r, s, r.offsets[s], r.offsets[s + 1])
  }
  return out
}

/** Checks a batch's cube and options; returns the native threads and budget. */
const checkBatch = (cube: Float32Array, nChannels: number, options: BatchOptions): { threads: number; timeoutMs: number } => {
  if (!(cube instanceof Float32Array)) throw new TypeError("cube must be a Float32Array")
  if (!Number.isInteger(nChannels) || nChannels < 1 || nChannels > MAX_CHANNELS || cube.length % nChannels !== 0) {
    throw new RangeError(
      `nChannels must be an integer in [1, ${MAX_CHANNELS}] dividing the cube length (${cube.length}), got ${nChannels}`
    )
  }
  const threads = options.threads ?? availableParallelism()
  if (!Number.isInteger(threads) || threads < 1 || threads > 1024) {
    throw new RangeError(`threads must be an integer in [1, 1024], got ${threads}`)
  }
  return { threads, timeoutMs: checkTimeout(options.timeoutMs ?? 5000) }
}

/**
 * One batch decomposed for several parameter sets ({@link decomposeBatchMulti}).
 *
 * @since 0.3.0
 * @category models
 */
export interface MultiDecomposition {
  /** Parameter sets, in the order given. */
  readonly sets: number
  readonly spectra: number
  /** Decompositions actually computed over the batch (sets sharing a fit count once). */
  readonly distinct: number
  /** Bytes the result holds (its compact native arrays). */
  readonly bytes: number
  /** Set `set`'s results in input order: exactly what `decomposeBatch` gives for it alone. */
  readonly decompositions: (set: number) => Decomposition[]
}

/**
 * Decomposes a cube as {@link decomposeBatch} does, for every parameter set at once. Each
 * set's results are bit for bit those of `decomposeBatch` with that set alone, whatever
 * the thread count; what does not depend on the set (blank channels, noise, persistence
 * diagram) is computed once per spectrum, and sets whose starting components and other
 * parameters (all but β) are equal share one fit (docs/tuning.md, "What a sweep costs").
 * Each fit has the `timeoutMs` budget a spectrum has in `decomposeBatch`. Rejects with
 * {@link InvalidFitParams} for bad parameters (naming the set).
 *
 * @since 0.3.0
 * @category decomposition
 */
export const decomposeBatchMulti = async (
  cube: Float32Array,
  nChannels: number,
  paramSets: ReadonlyArray<Partial<FitParams>>,
  options: BatchOptions = {}
): Promise<MultiDecomposition> => {
  const { threads, timeoutMs } = checkBatch(cube, nChannels, options)
  if (!Array.isArray(paramSets) || paramSets.length === 0) throw new InvalidFitParams(["paramSets must be a non-empty array"])
  const flat = new Float64Array(6 * paramSets.length)
  paramSets.forEach((set, k) => {
    try {
      flat.set(paramsArray(validateParams(set)), 6 * k)
    } catch (e) {
      throw e instanceof InvalidFitParams ? new InvalidFitParams(e.problems.map((p) => `set ${k}: ${p}`)) : e
    }
  })
  const n = cube.length / nChannels
  const sets = paramSets.length
  if (n === 0) return { sets, spectra: 0, distinct: 0, bytes: 0, decompositions: () => [] }
  const r = await addon.decomposeBatchMulti(cube, nChannels, flat, threads, timeoutMs)
  return {
    sets,
    spectra: n,
    distinct: r.offsets.length - 1,
    bytes: [r.meta, r.offsets, r.components, r.errors, r.which, r.minPersistence].reduce((b, a) => b + a.byteLength, 0),
    decompositions: (set) => {
      if (!Number.isInteger(set) || set < 0 || set >= sets) throw new RangeError(`set must be an integer in [0, ${sets - 1}], got ${set}`)
      const out: Decomposition[] = new Array(n)
      for (let s = 0; s < n; s++) {
        const at = r.which[set * n + s]
        out[s] = { ...decompositionOf(r, at, r.offsets[at], r.offsets[at + 1]), minPersistence: r.minPersistence[set * n + s] }
      }
      return out
    }
  }
}

/**
 * The noise estimate of step 1 (debug export).
 *
 * @since 0.1.0
 * @category internal
 */
export type NoiseEstimate = { rms: number; sigmaMad: number; channelsUsed: number; fallback: boolean }

/**
 * A persistent peak of step 2 (debug export); `saddle` is −1 for the global maximum.
 *
 * @since 0.1.0
 * @category internal
 */
export type Peak = {
  index: number
  birth: number
  death: number
  persistence: number
  saddle: number
  stddevGuess: number
}

/**
 * The outcome of one solver run (debug export); `status` says why it stopped.
 *
 * @since 0.1.0
 * @category internal
 */
export type FitResult = {
  components: Component[]
  status:
    | "gradient_tolerance"
    | "function_tolerance"
    | "parameter_tolerance"
    | "max_evaluations"
    | "deadline"
    | "numerical_failure"
    | "no_parameters"
  evaluations: number
  iterations: number
  initialCost: number
  finalCost: number
  /** 1σ errors of the solution for the given noise (as {@link Decomposition}'s `componentErrors`) */
  componentErrors: ComponentErrors[]
}

type NativeFit = Omit<FitResult, "components" | "componentErrors"> & { components: Float64Array; errors: Float64Array }

/**
 * The individual algorithm steps, exposed for tests. Not a stable API.
 *
 * @since 0.1.0
 * @category internal
 */
export const __internal = {
  /** step 1 on finite data */
  noise: (spectrum: ArrayLike<number>): NoiseEstimate => addon.noise(Float64Array.from(spectrum)),
  /** step 2: peaks with persistence > threshold, most persistent first */
  peaks: (spectrum: ArrayLike<number>, threshold: number): Peak[] =>
    addon.peaks(Float64Array.from(spectrum), threshold),
  /**
   * step 3: one bounded LM solve from `initial` (non-finite channels get zero weight), with
   * the parameter errors of the solution for white noise of rms `noise`
   */
  fit: (spectrum: ArrayLike<number>, initial: ReadonlyArray<Component>, maxEvaluations = 10000, noise = 1): FitResult => {
    const flat = Float64Array.from(initial.flatMap((c) => [c.amplitude, c.mean, c.stddev]))
    const { errors, ...r } = addon.fit(Float64Array.from(spectrum), flat, maxEvaluations, noise)
    const n = r.components.length / 3
    return { ...r, components: tripletsOf(r.components, 0, n), componentErrors: tripletsOf(errors, 0, n) }
  }
}
