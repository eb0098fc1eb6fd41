/**
 * The decomposer as a service: the native addon's thread-pooled `decomposeBatch` behind a
 * tag, so stages name it and tests can stand in for it.
 *
 * @since 0.1.0
 */
import * as Native from "@phs/fit-native"
import { Clock, Context, Effect, Layer } from "effect"
import { FitError } from "./Errors.js"

/**
 * @since 0.1.0
 * @category models
 */
export type FitParams = Native.FitParams
export type Decomposition = Native.Decomposition

/**
 * @since 0.1.0
 * @category models
 */
export interface FitOptions {
  /** Per-spectrum budget in ms; 0 = none. Over-budget spectra come back as `timeout`. */
  readonly timeoutMs: number
  /** Native threads for this batch (default: the fitter's own). */
  readonly threads?: number
  /**
   * Epoch ms after which no new spectrum is started: the rest come back as `timeout`
   * (on Lambda: 60 s before the invocation deadline).
   */
  readonly startBefore?: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Fitter {
  /**
   * Decomposes `spectra` (spectrum-major, `nChannels` each); results in input order. The
   * fitter keeps no reference to `spectra` once the effect is done (the fit stage frees it).
   */
  readonly decomposeBatch: (
    spectra: Float32Array,
    nChannels: number,
    params: FitParams,
    options: FitOptions
  ) => Effect.Effect<ReadonlyArray<Decomposition>, FitError>
  /** Version of the decomposer, part of a run's identity. */
  readonly version: string
}

/**
 * @since 0.1.0
 * @category tags
 */
export const Fitter = Context.GenericTag<Fitter>("@phs/core/Fitter")

const timedOut = (): Decomposition => ({
  rms: null,
  minPersistence: Number.NaN,
  components: [],
  status: "timeout",
  evaluations: 0,
  nanChannels: 0,
  residualRms: null,
  chi2Reduced: null,
  aicc: null,
  componentErrors: []
})

/** Spectra per native call when a start deadline is set: how often the deadline is checked. */
const DEADLINE_SLICE = 64

/**
 * The native decomposer on `threads` threads per batch (default: all cores).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeNative = (defaults: { readonly threads?: number } = {}): Fitter => {
  const batch = (spectra: Float32Array, nChannels: number, params: FitParams, options: FitOptions) =>
    Effect.tryPromise({
      try: () => Native.decomposeBatch(spectra, nChannels, params, { threads: options.threads ?? defaults.threads, timeoutMs: options.timeoutMs }),
      catch: (cause) => new FitError({ reason: cause instanceof Error ? cause.message : String(cause), retryable: false })
    })
  return {
    version: Native.NATIVE_VERSION,
    decomposeBatch: (spectra, nChannels, params, options) =>
      Effect.gen(function* () {
        if (options.startBefore === undefined) return yield* batch(spectra, nChannels, params, options)
        const n = spectra.length / nChannels
        const out: Decomposition[] = []
        for (let i = 0; i < n; i += DEADLINE_SLICE) {
          const now = yield* Clock.currentTimeMillis
          const m = Math.min(DEADLINE_SLICE, n - i)
          if (now >= options.startBefore) {
            for (let k = 0; k < m; k++) out.push(timedOut())
            continue
          }
          out.push(...(yield* batch(spectra.subarray(i * nChannels, (i + m) * nChannels), nChannels, params, options)))
        }
        return out
      })
  }
}

/**
 * @since 0.1.0
 * @category layers
 */
export const layerNative = (defaults: { readonly threads?: number } = {}): Layer.Layer<Fitter> =>
  Layer.sync(Fitter, () => makeNative(defaults))
