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
import {
  DEFAULT_REFIT_OPTIONS,
  flagsOf,
  isFitted,
  matchedSupportOf,
  type Neighbour,
  REFIT_FLAGS,
  type RefitFlag,
  type RefitOptions,
  supportOf
} from "./Flags.js"

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
  /**
   * `"changed"`: `rows` come from an earlier refit pass that marked the rows it changed
   * (`markChanged`), and only pixels with a marked row in their neighbourhood are revisited
   * (the others would give what they gave). Default `"all"`.
   */
  readonly revisit?: "all" | "changed"
  /** mark the rows the last pass changed (their `refit` ends in {@link CHANGED_MARK}), for the next call's `revisit` */
  readonly markChanged?: boolean
}

/**
 * The suffix of the `refit` value of a row that the last pass of a {@link refitBlock} call
 * changed, with `markChanged`: rows between fan-out passes only, never published.
 *
 * @since 0.3.0
 * @category constants
 */
export const CHANGED_MARK = "*"

/**
 * A result row: the decomposition row plus `refit`, null when the refit left the spectrum
 * as it was, else the flag that caused the change (with {@link CHANGED_MARK} appended when
 * `markChanged` and the call's last pass changed it).
 *
 * @since 0.2.0
 * @category models
 */
export type RefitRow = DecompositionRow & { readonly refit: RefitFlag | `${RefitFlag}${typeof CHANGED_MARK}` | null }

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
  /** guesses fitted (LM solves, a refit of the validated components not counted) */
  readonly fits: number
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

/**
 * Why a map of nx × ny pixels cannot be refitted (null: it can): a 1 × N map has no 2-D
 * neighbourhood.
 *
 * @since 0.3.0
 * @category refit
 */
export const refitSkipReason = (nx: number, ny: number): string | null =>
  nx < 2 || ny < 2 ? `a ${nx}×${ny} map has no 2-D neighbourhood: nothing could be refitted` : null

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

/**
 * Step 4's validation (docs/algorithm.md) of a fitted component, with the thresholds
 * `thresholds(c)` gives it (lower for a component the neighbours share).
 */
const passes = (c: Component, rms: number, n: number, t: Thresholds): boolean =>
  c.amplitude >= 0 && Number.isFinite(c.mean) && c.stddev > 0 && FWHM * c.stddev >= 1 &&
  c.mean >= 0 && c.mean < n && c.amplitude >= t.snr * rms &&
  !(rms > 0 && (c.amplitude / rms) * Math.sqrt(c.stddev) * PI_QUARTER < t.mfSnr)

type Thresholds = { readonly snr: number; readonly mfSnr: number }

/** The share of the neighbours' weight whose component count is not `k`. */
const disagreementOf = (k: number, neighbours: ReadonlyArray<Neighbour>): number => {
  let w = 0
  let total = 0
  for (const n of neighbours) {
    total += n.weight
    if (n.row.n_components !== k) w += n.weight
  }
  return total > 0 ? w / total : 0
}

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

/**
 * The neighbours' components matched across neighbours: taken in velocity order (ties by
 * amplitude, then the neighbour's position in the list), each joins the last cluster when it
 * overlaps the cluster's weighted mean within the wider of the two widths and its neighbour
 * is not in it yet; a cluster holding at least `minShare` of the neighbours' weight gives its
 * weighted mean component.
 */
const matchedConsensus = (neighbours: ReadonlyArray<Neighbour>, minShare: number): Array<Component> => {
  const all: Array<{ c: Component; n: number; w: number }> = []
  let total = 0
  neighbours.forEach((nb, n) => {
    total += nb.weight
    for (const c of componentsOf(nb.row)) all.push({ c, n, w: nb.weight })
  })
  all.sort((a, b) => a.c.mean - b.c.mean || b.c.amplitude - a.c.amplitude || a.n - b.n)
  type Cluster = { w: number; a: number; m: number; s: number; members: Set<number> }
  const clusters: Array<Cluster> = []
  for (const { c, n, w } of all) {
    const last = clusters.at(-1)
    const mean = last ? last.m / last.w : 0
    if (last && !last.members.has(n) && Math.abs(c.mean - mean) <= Math.max(c.stddev, last.s / last.w)) {
      last.w += w
      last.a += w * c.amplitude
      last.m += w * c.mean
      last.s += w * c.stddev
      last.members.add(n)
    } else {
      clusters.push({ w, a: w * c.amplitude, m: w * c.mean, s: w * c.stddev, members: new Set([n]) })
    }
  }
  return clusters
    .filter((q) => total > 0 && q.w / total >= minShare)
    .map((q) => ({ amplitude: q.a / q.w, mean: q.m / q.w, stddev: q.s / q.w }))
}

/**
 * Two guesses the LM would take to the same minimum, as good as certain: the same count, each
 * component within a tenth of its width in mean and 10 % in amplitude and width.
 */
const similar = (a: ReadonlyArray<Component>, b: ReadonlyArray<Component>): boolean =>
  a.length === b.length &&
  a.every((p, i) => {
    const q = b[i]
    return Math.abs(p.mean - q.mean) <= 0.1 * Math.min(p.stddev, q.stddev) &&
      Math.abs(p.amplitude - q.amplitude) <= 0.1 * Math.max(p.amplitude, q.amplitude) &&
      Math.abs(p.stddev - q.stddev) <= 0.1 * Math.max(p.stddev, q.stddev)
  })

/** An initial guess and where it comes from. */
type Guess = { readonly from: string; readonly comps: Array<Component> }

/** The own solution plus the components of `g` none of it covers. */
const withExtra = (own: Array<Component>, g: ReadonlyArray<Component>): Array<Component> | null => {
  const extra = g.filter((q) => own.every((o) => Math.abs(o.mean - q.mean) > Math.max(o.stddev, q.stddev)))
  return extra.length > 0 && own.length > 0 ? [...own, ...extra].sort((a, b) => a.mean - b.mean) : null
}

/** The initial guesses for a flagged spectrum, in a fixed order. */
const guesses = (own: Array<Component>, neighbours: ReadonlyArray<Neighbour>, o: RefitOptions): Array<Guess> => {
  const out: Array<Guess> = []
  const push = (from: string, comps: Array<Component> | null) => {
    if (comps !== null && !out.some((d) => similar(d.comps, comps))) out.push({ from, comps })
  }
  const weights = new Map<number, number>()
  for (const n of neighbours) weights.set(n.row.n_components, (weights.get(n.row.n_components) ?? 0) + n.weight)
  const counts = [...weights.entries()].filter(([c]) => c > 0).sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, 2)
  counts.forEach(([c], rank) => {
    const g = consensus(neighbours, c)
    push(`consensus${rank}`, g)
    // own components plus the consensus components none of them covers
    push(`own+consensus${rank}`, withExtra(own, g))
  })
  if (o.matched) {
    for (const share of [0.5, 0.3]) {
      const g = matchedConsensus(neighbours, share)
      if (g.length === 0) continue
      push(`matched${share}`, g)
      push(`own+matched${share}`, withExtra(own, g))
    }
  }
  // the nearest neighbours' own solutions
  if (o.neighbourSolutions) for (const n of neighbours) if (n.weight === 1 && n.row.n_components > 0) push("neighbour", componentsOf(n.row))
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

const fitGuess = (
  spec: Float64Array,
  guess: Array<Component>,
  rms: number,
  maxEvaluations: number,
  thresholds: (c: Component) => Thresholds
): Solution | null => {
  let r = __internal.fit(spec, guess, maxEvaluations, rms)
  let comps = r.components.filter((c) => passes(c, rms, spec.length, thresholds(c)))
  if (comps.length === 0) {
    // every component failed: the empty solution
    const { n, rss } = rssOf(residualOf(spec, []))
    return { comps: [], errors: [], rss, n, aicc: aiccOf(rss, n, 0) }
  }
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
  // pixels an earlier call's last pass changed: only their neighbourhoods are revisited
  const marked = new Set<number>()
  // a row from an earlier refit pass keeps the flag that changed it
  for (const row of input.rows) {
    const k = key(row.x, row.y)
    const changedLast = typeof row.refit === "string" && row.refit.endsWith(CHANGED_MARK)
    if (changedLast) marked.add(k)
    const flag = changedLast ? (row.refit as string).slice(0, -CHANGED_MARK.length) : row.refit
    prev.set(k, { row, flag: REFIT_FLAGS.find((f) => f === flag) ?? null })
  }
  const blockRows = (states: Map<number, State>, mark: ReadonlySet<number>): Array<RefitRow> => {
    const out: Array<RefitRow> = []
    for (let y = block.y0; y < block.y0 + block.ny; y++) {
      for (let x = block.x0; x < block.x0 + block.nx; x++) {
        const k = key(x, y)
        const s = states.get(k)
        if (s) out.push({ ...s.row, refit: s.flag !== null && mark.has(k) ? `${s.flag}${CHANGED_MARK}` : s.flag })
      }
    }
    return out
  }
  const skipped = refitSkipReason(map.nx, map.ny)
  if (skipped !== null) return { rows: blockRows(prev, new Set()), flagged: emptyFlags(), refitted: 0, fits: 0, passes: 0, skipped }
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
  let changedPrev: Set<number> | null = input.revisit === "changed" ? marked : null
  let passesRun = 0
  let fits = 0
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
        const criterion = (aicc: number, comps: ReadonlyArray<Component>) => {
          let c = aicc + o.coherence * disagreementOf(comps.length, neighbours)
          for (const share of matchedSupportOf(comps, neighbours)) if (share >= o.rewardShare) c -= o.supportReward * share
          return c
        }
        let bestScore = criterion(aiccOf(cur.rss, cur.n, own.length), own) - o.aiccMargin
        const alone: Thresholds = { snr: input.params.snr_min, mfSnr: input.params.mf_snr_min }
        const shared: Thresholds = { snr: Math.min(o.supportedSnr, alone.snr), mfSnr: Math.min(o.supportedMfSnr, alone.mfSnr) }
        // an empty spectrum needs every neighbour to share the component: at a cloud's edge
        // the neighbours' faint component is often below the noise here
        const needed = own.length > 0 ? o.supportedShare : o.emptySupport
        const from = own.length > 0 ? Math.min(o.supportedFrom, needed) : needed
        const thresholds = (c: Component): Thresholds => {
          const support = supportOf(c.mean, c.stddev, neighbours)
          if (support >= needed) return shared
          if (support < from || from >= needed) return alone
          // between `supportedFrom` and `supportedShare` the thresholds fall linearly
          const t = (support - from) / (needed - from)
          return { snr: alone.snr + t * (shared.snr - alone.snr), mfSnr: alone.mfSnr + t * (shared.mfSnr - alone.mfSnr) }
        }
        let stacked = o.stack ? stackGuess.get(k) : []
        if (stacked === undefined) {
          stacked = stackOf(input, x, y, R, spec)
          stackGuess.set(k, stacked)
        }
        const tries = guesses(own, neighbours, o)
        if (stacked.length > 0) {
          tries.push({ from: "stack", comps: stacked })
          const extra = withExtra(own, stacked)
          if (extra !== null) tries.push({ from: "own+stack", comps: extra })
        }
        fits += tries.length
        for (const g of tries) {
          const sol = fitGuess(spec, g.comps, rms, o.maxEvaluations, thresholds)
          const score = sol ? criterion(sol.aicc, sol.comps) : Infinity
          if (sol && score < bestScore) {
            best = sol
            bestScore = score
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
  const rows = blockRows(prev, input.markChanged === true && changedPrev !== null ? changedPrev : new Set())
  return { rows, flagged, refitted: rows.reduce((n, r) => (r.refit !== null ? n + 1 : n), 0), fits, passes: passesRun, skipped: null }
}

