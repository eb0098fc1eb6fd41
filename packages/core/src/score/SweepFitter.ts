/**
 * The fitter of a sweep (docs/tuning.md, "What a sweep costs"). Every grid point is a run of
 * its own whose fit steps ask the `Fitter` for a chunk at the point's parameters. The first
 * point to ask for a chunk gets it decomposed for every point still to come in one native
 * call (`decomposeBatchMulti`: the β-independent work once per spectrum, one fit for the
 * points whose starting components are equal), and the other points' requests for the same
 * chunk (the same bytes, the same budget) are answered from that result. Every answer is bit
 * for bit what the plain fitter gives, so each run, its journal, its results and a replay are
 * those of the run driven alone; the cache only saves time. A request it cannot answer
 * (another point's parameters, a start deadline, an entry evicted or already answered)
 * goes to the plain fitter. A fault plan (`Faults.FitterFaults`) meets every request once:
 * in the plain fitter for one passed on, around the answer for one answered here (a request
 * that waited for a shared fit that failed is then fitted alone, and meets it again there).
 *
 * @since 0.3.0
 */
import * as Native from "@phs/fit-native"
import { Config, Deferred, Effect, Exit, Option } from "effect"
import { createHash } from "node:crypto"
import { FitError } from "../Errors.js"
import { FitterFaults } from "../Faults.js"
import type { Decomposition, FitOptions, FitParams, Fitter } from "../Fitter.js"
import * as Settings from "../Settings.js"

/**
 * A point of the sweep as the fitter sees it.
 *
 * @since 0.3.0
 * @category models
 */
export interface SweepSet {
  readonly params: FitParams
  readonly timeoutMs: number
}

/**
 * One native call for several parameter sets (`decomposeBatchMulti`'s contract).
 *
 * @since 0.3.0
 * @category models
 */
export type DecomposeMulti = (
  spectra: Float32Array,
  nChannels: number,
  sets: ReadonlyArray<FitParams>,
  options: { readonly timeoutMs: number; readonly threads?: number }
) => Effect.Effect<Native.MultiDecomposition, FitError>

/**
 * What the fitter did: chunks decomposed for several points at once, requests answered from
 * them, requests passed to the plain fitter, and the bytes held now.
 *
 * @since 0.3.0
 * @category models
 */
export interface SweepFitStats {
  readonly sharedCalls: number
  readonly answered: number
  readonly passedOn: number
  readonly heldBytes: number
}

/**
 * A `Fitter` for the runs of one sweep, and how to tell it a point is done.
 *
 * @since 0.3.0
 * @category models
 */
export interface SweepFitter extends Fitter {
  /** The point of these parameters needs nothing more: nothing is computed or kept for it from now on. */
  readonly retire: (set: SweepSet) => Effect.Effect<void>
  readonly stats: Effect.Effect<SweepFitStats>
}

/**
 * @since 0.3.0
 * @category constants
 */
export const DEFAULT_CACHE_MIB = 1024

/**
 * The most the fitter holds for points still to come, in MiB (`PHS_SWEEP_CACHE_MB`, default
 * {@link DEFAULT_CACHE_MIB}): past it the oldest chunks are dropped and fitted again when
 * asked for.
 *
 * @since 0.3.0
 * @category settings
 */
export const cacheBudgetMiB: Config.Config<number> = Settings.optionalParsed("PHS_SWEEP_CACHE_MB", Settings.positiveNumber).pipe(
  Config.map(Option.getOrElse(() => DEFAULT_CACHE_MIB))
)

/**
 * The native `decomposeBatchMulti` as a `DecomposeMulti`.
 *
 * @since 0.3.0
 * @category constructors
 */
export const nativeMulti: DecomposeMulti = (spectra, nChannels, sets, options) =>
  Effect.tryPromise({
    try: () => Native.decomposeBatchMulti(spectra, nChannels, sets, options),
    catch: (cause) => new FitError({ reason: cause instanceof Error ? cause.message : String(cause), retryable: false })
  })

const PARAM_KEYS = Object.keys(Native.DEFAULT_PARAMS) as ReadonlyArray<keyof FitParams>

const sameSet = (a: SweepSet, b: SweepSet): boolean => Object.is(a.timeoutMs, b.timeoutMs) && PARAM_KEYS.every((k) => Object.is(a.params[k], b.params[k]))

/** A chunk decomposed (or being decomposed) for several sets. */
interface Entry {
  /** The sets of the call, in its order (indices into the sweep's sets). */
  readonly sets: ReadonlyArray<number>
  readonly result: Deferred.Deferred<Native.MultiDecomposition, FitError>
  /** Sets whose request is still to come. */
  readonly waiting: Set<number>
  bytes: number
}

const chunkKey = (spectra: Float32Array, nChannels: number): string =>
  createHash("sha256").update(new Uint8Array(spectra.buffer, spectra.byteOffset, spectra.byteLength)).update(String(nChannels)).digest("hex")

/**
 * The fitter of a sweep over `sets` (its points, in order; repeated sets count once), over
 * the plain fitter `base` (whose `version` it keeps: run ids do not change).
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = (
  base: Fitter,
  sets: ReadonlyArray<SweepSet>,
  options: {
    readonly multi?: DecomposeMulti
    /** What it may hold for points still to come (default {@link DEFAULT_CACHE_MIB} MiB). */
    readonly budgetBytes?: number
  } = {}
): Effect.Effect<SweepFitter, never> =>
  Effect.gen(function* () {
    const multi = options.multi ?? nativeMulti
    const faults = yield* FitterFaults
    const budget = options.budgetBytes ?? DEFAULT_CACHE_MIB * 1024 * 1024
    const points: SweepSet[] = []
    for (const s of sets) if (!points.some((p) => sameSet(p, s))) points.push(s)
    const retired = new Set<number>()
    const entries = new Map<string, Entry>()
    let held = 0
    let sharedCalls = 0
    let answered = 0
    let passedOn = 0

    const drop = (key: string, entry: Entry) => {
      if (entries.get(key) !== entry) return
      entries.delete(key)
      held -= entry.bytes
    }
    /** Oldest first, keeping the newest: what is still wanted most soon. */
    const evict = () => {
      for (const [key, entry] of entries) {
        if (held <= budget || entries.size <= 1) break
        if (entry.bytes > 0) drop(key, entry)
      }
    }
    const passOn = (spectra: Float32Array, nChannels: number, params: FitParams, fitOptions: FitOptions) =>
      Effect.suspend(() => {
        passedOn++
        return base.decomposeBatch(spectra, nChannels, params, fitOptions)
      })

    const groupOf = (timeoutMs: number) => points.flatMap((p, j) => (!retired.has(j) && Object.is(p.timeoutMs, timeoutMs) ? [j] : []))

    /** Point k's request answered from the chunk's shared fit, made now if nobody has made it. */
    const fromShared = (k: number, key: string, spectra: Float32Array, nChannels: number, params: FitParams, fitOptions: FitOptions) =>
      Effect.gen(function* () {
        const found = entries.get(key)
        if (found !== undefined && found.waiting.has(k)) {
          found.waiting.delete(k)
          const exit = yield* Effect.exit(Deferred.await(found.result))
          if (found.waiting.size === 0) drop(key, found)
          if (Exit.isFailure(exit)) return yield* passOn(spectra, nChannels, params, fitOptions)
          answered++
          return exit.value.decompositions(found.sets.indexOf(k))
        }
        const group = groupOf(fitOptions.timeoutMs)
        // What changed since the request was routed here (it may have waited): fitted alone.
        if (found !== undefined || group.length < 2) return yield* passOn(spectra, nChannels, params, fitOptions)
        const entry: Entry = { sets: group, result: yield* Deferred.make<Native.MultiDecomposition, FitError>(), waiting: new Set(group.filter((j) => j !== k)), bytes: 0 }
        entries.set(key, entry)
        sharedCalls++
        const result = yield* multi(
          spectra,
          nChannels,
          group.map((j) => points[j].params),
          fitOptions.threads === undefined ? { timeoutMs: fitOptions.timeoutMs } : { timeoutMs: fitOptions.timeoutMs, threads: fitOptions.threads }
        ).pipe(
          Effect.onExit((exit) => Effect.zipRight(Deferred.done(entry.result, exit), Effect.sync(() => Exit.isFailure(exit) && drop(key, entry))))
        )
        if (entries.get(key) === entry && entry.waiting.size > 0) {
          entry.bytes = result.bytes
          held += result.bytes
          evict()
        } else drop(key, entry)
        return result.decompositions(group.indexOf(k))
      })

    const decomposeBatch = (
      spectra: Float32Array,
      nChannels: number,
      params: FitParams,
      fitOptions: FitOptions
    ): Effect.Effect<ReadonlyArray<Decomposition>, FitError> =>
      Effect.suspend(() => {
        const k = points.findIndex((p) => sameSet(p, { params, timeoutMs: fitOptions.timeoutMs }))
        if (fitOptions.startBefore !== undefined || k < 0 || retired.has(k)) return passOn(spectra, nChannels, params, fitOptions)
        const key = chunkKey(spectra, nChannels)
        const found = entries.get(key)
        // Asked again for a chunk it already had (a retried step): fitted alone, the others keep theirs.
        if (found !== undefined && !found.waiting.has(k)) return passOn(spectra, nChannels, params, fitOptions)
        if (found === undefined && groupOf(fitOptions.timeoutMs).length < 2) return passOn(spectra, nChannels, params, fitOptions)
        // Answered without the base, so the fault plan (if any) meets the request here, once.
        const shared = faults({ version: base.version, decomposeBatch: (sp, n, p, o) => fromShared(k, key, sp, n, p, o) })
        return shared.decomposeBatch(spectra, nChannels, params, fitOptions)
      })

    return {
      version: base.version,
      decomposeBatch,
      retire: (set) =>
        Effect.sync(() => {
          const k = points.findIndex((p) => sameSet(p, set))
          if (k < 0) return
          retired.add(k)
          for (const [key, entry] of entries) {
            entry.waiting.delete(k)
            if (entry.waiting.size === 0 && entry.bytes > 0) drop(key, entry)
          }
        }),
      stats: Effect.sync(() => ({ sharedCalls, answered, passedOn, heldBytes: held }))
    }
  })
