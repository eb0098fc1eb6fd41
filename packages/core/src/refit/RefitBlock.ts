/**
 * The spatially coherent refit of a block of pixels (docs/algorithm.md, "Spatially coherent
 * refit"): flags spectra whose decomposition disagrees with their neighbours' or with the
 * noise, refits them from the neighbours' solutions and keeps a new solution only where its
 * AICc is lower. Passes are Jacobi-style: pass p reads only pass p − 1 values, so a pixel's
 * result depends on its neighbourhood alone and never on where block boundaries fall.
 *
 * @since 0.2.0
 */
import { __internal, type Component, decompose, type FitParams } from "@phs/fit-native"
import { Schema } from "effect"
import type { DecompositionRow } from "../ResultSchema.js"
import { type CubeWorld, worldColumns } from "../wcs/WorldColumns.js"
import { DEFAULT_REFIT_OPTIONS, flagsOf, isFitted, type Neighbour, REFIT_FLAGS, type RefitFlag, type RefitOptions } from "./Flags.js"

/**
 * A pixel box: columns x0 … x0 + nx − 1, rows y0 … y0 + ny − 1.
 *
 * @since 0.2.0
 * @category models
 */
export interface Box {
  readonly x0: number
  readonly y0: number
  readonly nx: number
  readonly ny: number
}

/**
 * The input of {@link refitBlock}.
 *
 * - `map`: the whole map's size (nx × ny), to clip neighbourhoods at its edges.
 * - `block`: the pixels whose rows are produced.
 * - `rows`: the previous decomposition's row of every pixel of the map within `block` grown
 *   by `passes × radius` (a missing pixel counts as blank).
 * - `spectrum(x, y)`: the spectrum of a pixel within `block` grown by `passes × radius` (as
 *   the rows: a refitted spectrum is also fitted from the stack of its neighbourhood's
 *   spectra); undefined for a pixel that has none.
 *
 * @since 0.2.0
 * @category models
 */
export interface RefitInput {
  readonly map: { readonly nx: number; readonly ny: number }
  readonly block: Box
  readonly rows: ReadonlyArray<DecompositionRow>
  readonly spectrum: (x: number, y: number) => Float32Array | Float64Array | undefined
  readonly params: FitParams
  readonly options?: Partial<RefitOptions>
  /** the cube's world, to recompute a refitted row's km/s columns (without it they are null) */
  readonly world?: CubeWorld
}

/**
 * A result row: the decomposition row plus `refit`, null when the refit left the spectrum
 * as it was, else the flag that caused the change.
 *
 * @since 0.2.0
 * @category models
 */
export type RefitRow = DecompositionRow & { readonly refit: RefitFlag | null }

/**
 * The output of {@link refitBlock}: the block's rows (row-major over the block, only pixels
 * that had a row), what was flagged and changed, and — when the map has no 2-D
 * neighbourhood (a 1 × N map) — why nothing could be refitted.
 *
 * @since 0.2.0
 * @category models
 */
export interface RefitOutput {
  readonly rows: ReadonlyArray<RefitRow>
  /** spectra of the block flagged in the first pass, per flag */
  readonly flagged: Readonly<Record<RefitFlag, number>>
  /** spectra of the block whose row changed */
  readonly refitted: number
  /** passes run (fewer than the limit when one changed nothing) */
  readonly passes: number
  readonly skipped: string | null
}

/**
 * Bad input to {@link refitBlock}.
 *
 * @since 0.2.0
 * @category errors
 */
export class RefitInputError extends Schema.TaggedError<RefitInputError>()("RefitInputError", {
  reason: Schema.String
}) {}

const key = (x: number, y: number): number => y * 65536 + x

type State = { row: DecompositionRow; flag: RefitFlag | null }

const componentsOf = (row: DecompositionRow): Array<Component> =>
  row.component_means.map((mean, i) => ({
    amplitude: row.component_amplitudes[i],
    mean,
    stddev: row.component_stddevs[i]
  }))

const residualOf = (spec: ArrayLike<number>, comps: ReadonlyArray<Component>): Float64Array => {
  const r = new Float64Array(spec.length)
  for (let i = 0; i < spec.length; i++) r[i] = Number.isFinite(spec[i]) ? spec[i] : NaN
  for (const c of comps) {
    const lo = Math.max(0, Math.floor(c.mean - 8 * c.stddev))
    const hi = Math.min(spec.length - 1, Math.ceil(c.mean + 8 * c.stddev))
    for (let i = lo; i <= hi; i++) {
      const z = (i - c.mean) / c.stddev
      r[i] -= c.amplitude * Math.exp(-0.5 * z * z)
    }
  }
  return r
}

const rssOf = (residual: Float64Array): { rss: number; n: number } => {
  let rss = 0
  let n = 0
  for (const v of residual) {
    if (Number.isFinite(v)) {
      rss += v * v
      n++
    }
  }
  return { rss, n }
}

/** AICc as the refinement computes it (docs/algorithm.md, step 5), k = 3 × components. */
const aiccOf = (rss: number, n: number, components: number): number => {
  const k = 3 * components
  if (n <= k + 1) return Infinity
  const r = rss > 0 ? rss : 1e-300
  return n * Math.log(r / n) + 2 * k + (2 * k * k + 2 * k) / (n - k - 1)
}

const FWHM = 2 * Math.sqrt(2 * Math.LN2)
const PI_QUARTER = Math.pow(Math.PI, 0.25)

/** Step 4's validation (docs/algorithm.md) of a fitted component. */
const passes = (c: Component, rms: number, n: number, p: FitParams): boolean =>
  c.amplitude >= 0 && Number.isFinite(c.mean) && c.stddev > 0 && FWHM * c.stddev >= 1 &&
  c.mean >= 0 && c.mean < n && c.amplitude >= p.snr_min * rms &&
  !(rms > 0 && (c.amplitude / rms) * Math.sqrt(c.stddev) * PI_QUARTER < p.mf_snr_min)

/**
 * The distance-weighted mean solution of the neighbours with `count` components, component by
 * component in mean order.
 */
const consensus = (neighbours: ReadonlyArray<Neighbour>, count: number): Array<Component> => {
  const acc = Array.from({ length: count }, () => ({ amplitude: 0, mean: 0, stddev: 0 }))
  let w = 0
  for (const n of neighbours) {
    if (n.row.n_components !== count) continue
    w += n.weight
    for (let i = 0; i < count; i++) {
      acc[i].amplitude += n.weight * n.row.component_amplitudes[i]
      acc[i].mean += n.weight * n.row.component_means[i]
      acc[i].stddev += n.weight * n.row.component_stddevs[i]
    }
  }
  return acc.map((c) => ({ amplitude: c.amplitude / w, mean: c.mean / w, stddev: c.stddev / w }))
}

/** The initial guesses for a flagged spectrum, in a fixed order. */
const guesses = (own: Array<Component>, neighbours: ReadonlyArray<Neighbour>): Array<Array<Component>> => {
  const out: Array<Array<Component>> = []
  const weights = new Map<number, number>()
  for (const n of neighbours) weights.set(n.row.n_components, (weights.get(n.row.n_components) ?? 0) + n.weight)
  const counts = [...weights.entries()].filter(([c]) => c > 0).sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, 2)
  for (const [c] of counts) {
    const g = consensus(neighbours, c)
    out.push(g)
    // own components plus the consensus components none of them covers
    const extra = g.filter((q) => own.every((o) => Math.abs(o.mean - q.mean) > Math.max(o.stddev, q.stddev)))
    if (extra.length > 0 && own.length > 0) out.push([...own, ...extra].sort((a, b) => a.mean - b.mean))
    // own components less those no consensus component covers
    const kept = own.filter((q) => g.some((o) => Math.abs(o.mean - q.mean) <= Math.max(o.stddev, q.stddev)))
    if (kept.length > 0 && kept.length < own.length) out.push(kept)
  }
  // the nearest neighbours' own solutions
  for (const n of neighbours) {
    if (n.weight === 1 && n.row.n_components > 0) out.push(componentsOf(n.row))
  }
  return out
}

/**
 * The components of the distance-weighted mean spectrum of a pixel and its neighbours (the
 * pixel weighing 1): faint components its neighbours share stand out of the noise there.
 * Depends on the spectra only, so it is the same in every pass.
 */
const stackOf = (input: RefitInput, x: number, y: number, R: number, own: Float64Array): Array<Component> => {
  const sum = Float64Array.from(own, (v) => (Number.isFinite(v) ? v : 0))
  const w = Float64Array.from(own, (v) => (Number.isFinite(v) ? 1 : 0))
  for (let dy = -R; dy <= R; dy++) {
    for (let dx = -R; dx <= R; dx++) {
      if ((dx === 0 && dy === 0) || x + dx < 0 || y + dy < 0 || x + dx >= input.map.nx || y + dy >= input.map.ny) continue
      const s = input.spectrum(x + dx, y + dy)
      if (!s || s.length !== own.length) continue
      const wt = 1 / Math.hypot(dx, dy)
      for (let i = 0; i < s.length; i++) {
        if (Number.isFinite(s[i])) {
          sum[i] += wt * s[i]
          w[i] += wt
        }
      }
    }
  }
  // without refinement: the guess only needs the lines, and the refit of the pixel refines it
  return decompose(Float64Array.from(sum, (v, i) => (w[i] > 0 ? v / w[i] : NaN)), { ...input.params, max_refine_iter: 0 }).components
}

type Solution = { comps: Array<Component>; errors: Array<Component>; rss: number; n: number; aicc: number }

const fitGuess = (spec: Float64Array, guess: Array<Component>, rms: number, p: FitParams, maxEvaluations: number): Solution | null => {
  let r = __internal.fit(spec, guess, maxEvaluations, rms)
  let comps = r.components.filter((c) => passes(c, rms, spec.length, p))
  if (comps.length === 0) return null
  if (comps.length !== r.components.length) {
    r = __internal.fit(spec, comps, maxEvaluations, rms)
    comps = r.components
  }
  const order = comps.map((_, i) => i).sort((a, b) => comps[a].mean - comps[b].mean)
  const sorted = order.map((i) => r.components[i])
  const errors = order.map((i) => r.componentErrors[i])
  const { n, rss } = rssOf(residualOf(spec, sorted))
  return { comps: sorted, errors, rss, n, aicc: aiccOf(rss, n, sorted.length) }
}

const rowOf = (row: DecompositionRow, s: Solution, world: CubeWorld | undefined): DecompositionRow => {
  const k = s.comps.length
  const rms = row.rms as number
  return {
    ...row,
    ...(world
      ? worldColumns(world, row.x, row.y, s.comps)
      : { component_velocities: null, component_velocity_dispersions: null, component_integrated_intensities: null }),
    n_components: k,
    component_amplitudes: s.comps.map((c) => c.amplitude),
    component_means: s.comps.map((c) => c.mean),
    component_stddevs: s.comps.map((c) => c.stddev),
    residual_rms: Math.sqrt(s.rss / s.n),
    chi2_reduced: s.n > 3 * k && rms > 0 ? s.rss / (rms * rms) / (s.n - 3 * k) : null,
    aicc: Number.isFinite(s.aicc) && s.rss > 0 ? s.aicc : null,
    component_amplitude_errors: s.errors.map((e) => e.amplitude),
    component_mean_errors: s.errors.map((e) => e.mean),
    component_stddev_errors: s.errors.map((e) => e.stddev)
  }
}

const emptyFlags = (): Record<RefitFlag, number> =>
  Object.fromEntries(REFIT_FLAGS.map((f) => [f, 0])) as Record<RefitFlag, number>

/**
 * Refits the block (see {@link RefitInput} for the halo it needs). Throws
 * {@link RefitInputError} for a block outside the map or bad options.
 *
 * @since 0.2.0
 * @category refit
 */
export const refitBlock = (input: RefitInput): RefitOutput => {
  const o: RefitOptions = { ...DEFAULT_REFIT_OPTIONS, ...input.options }
  const { map, block } = input
  if (!Number.isInteger(o.radius) || o.radius < 1 || !Number.isInteger(o.passes) || o.passes < 1) {
    throw new RefitInputError({ reason: `radius and passes must be integers >= 1, got ${o.radius}, ${o.passes}` })
  }
  if (block.x0 < 0 || block.y0 < 0 || block.nx < 0 || block.ny < 0 || block.x0 + block.nx > map.nx || block.y0 + block.ny > map.ny) {
    throw new RefitInputError({ reason: `block ${JSON.stringify(block)} is not inside the ${map.nx}×${map.ny} map` })
  }
  const prev = new Map<number, State>()
  for (const row of input.rows) prev.set(key(row.x, row.y), { row, flag: null })
  const blockRows = (states: Map<number, State>): Array<RefitRow> => {
    const out: Array<RefitRow> = []
    for (let y = block.y0; y < block.y0 + block.ny; y++) {
      for (let x = block.x0; x < block.x0 + block.nx; x++) {
        const s = states.get(key(x, y))
        if (s) out.push({ ...s.row, refit: s.flag })
      }
    }
    return out
  }
  if (map.nx < 2 || map.ny < 2) {
    return { rows: blockRows(prev), flagged: emptyFlags(), refitted: 0, passes: 0, skipped: `a ${map.nx}×${map.ny} map has no 2-D neighbourhood: nothing could be refitted` }
  }
  const R = o.radius
  const neighboursOf = (states: Map<number, State>, x: number, y: number): Array<Neighbour> => {
    const out: Array<Neighbour> = []
    for (let dy = -R; dy <= R; dy++) {
      for (let dx = -R; dx <= R; dx++) {
        if (dx === 0 && dy === 0) continue
        const s = states.get(key(x + dx, y + dy))
        if (s && isFitted(s.row)) out.push({ row: s.row, weight: 1 / Math.hypot(dx, dy) })
      }
    }
    return out
  }
  const flagged = emptyFlags()
  const stackGuess = new Map<number, Array<Component>>()
  let changedPrev: Set<number> | null = null
  let passesRun = 0
  for (let pass = 1; pass <= o.passes; pass++) {
    const grow = (o.passes - pass) * R
    const x0 = Math.max(0, block.x0 - grow)
    const y0 = Math.max(0, block.y0 - grow)
    const x1 = Math.min(map.nx, block.x0 + block.nx + grow)
    const y1 = Math.min(map.ny, block.y0 + block.ny + grow)
    const next = new Map(prev)
    const changed = new Set<number>()
    passesRun = pass
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const k = key(x, y)
        const s = prev.get(k)
        if (!s || !isFitted(s.row)) continue
        // unchanged neighbourhood since the last pass: the same inputs give the same result
        if (changedPrev !== null) {
          let dirty = false
          for (let dy = -R; dy <= R && !dirty; dy++) for (let dx = -R; dx <= R && !dirty; dx++) dirty = changedPrev.has(key(x + dx, y + dy))
          if (!dirty) continue
        }
        const spectrum = input.spectrum(x, y)
        if (!spectrum) continue
        const spec = Float64Array.from(spectrum)
        const neighbours = neighboursOf(prev, x, y)
        const own = componentsOf(s.row)
        const residual = residualOf(spec, own)
        const flags = flagsOf(s.row, neighbours, residual, input.params.f_sep, o)
        const inBlock = x >= block.x0 && x < block.x0 + block.nx && y >= block.y0 && y < block.y0 + block.ny
        if (pass === 1 && inBlock) for (const f of flags) flagged[f]++
        if (flags.length === 0 || neighbours.length === 0) continue
        const rms = s.row.rms as number
        const cur = rssOf(residual)
        let best: Solution | null = null
        let bestAicc = aiccOf(cur.rss, cur.n, own.length) - o.aiccMargin
        let stacked = o.stack ? stackGuess.get(k) : []
        if (stacked === undefined) {
          stacked = stackOf(input, x, y, R, spec)
          stackGuess.set(k, stacked)
        }
        const tries = guesses(own, neighbours)
        if (stacked.length > 0) {
          tries.push(stacked)
          const extra = stacked.filter((q) => own.every((o) => Math.abs(o.mean - q.mean) > Math.max(o.stddev, q.stddev)))
          if (extra.length > 0 && own.length > 0) tries.push([...own, ...extra].sort((a, b) => a.mean - b.mean))
        }
        for (const g of tries) {
          const sol = fitGuess(spec, g, rms, input.params, o.maxEvaluations)
          if (sol && sol.aicc < bestAicc) {
            best = sol
            bestAicc = sol.aicc
          }
        }
        if (best) {
          next.set(k, { row: rowOf(s.row, best, input.world), flag: flags[0] })
          changed.add(k)
        }
      }
    }
    prev.clear()
    for (const [k, v] of next) prev.set(k, v)
    changedPrev = changed
    if (changed.size === 0) break
  }
  const rows = blockRows(prev)
  return { rows, flagged, refitted: rows.reduce((n, r) => (r.refit !== null ? n + 1 : n), 0), passes: passesRun, skipped: null }
}

