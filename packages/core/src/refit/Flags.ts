/**
 * The per-spectrum flags of the spatially coherent refit (docs/algorithm.md, "Spatially
 * coherent refit"): why a spectrum's decomposition looks wrong next to its neighbours'.
 *
 * @since 0.2.0
 */
import type { DecompositionRow } from "../ResultSchema.js"

/**
 * The flags, in priority order (the first one a spectrum raises names its refit).
 *
 * @since 0.2.0
 * @category constants
 */
export const REFIT_FLAGS = ["count", "missing", "residual", "broad", "blended", "negative"] as const

/**
 * @since 0.2.0
 * @category models
 */
export type RefitFlag = (typeof REFIT_FLAGS)[number]

/**
 * Thresholds of the flags and the acceptance.
 *
 * @since 0.2.0
 * @category models
 */
export interface RefitOptions {
  /** neighbourhood radius in pixels (Chebyshev); neighbours weigh 1 / distance */
  readonly radius: number
  /** Jacobi passes at most */
  readonly passes: number
  /** "count": the neighbours' weighted majority count holds at least this share of their weight */
  readonly majority: number
  /**
   * "missing": a neighbour component that at least this share of the neighbours' weight has
   * (a component within the wider of the two widths) overlaps none of the spectrum's
   */
  readonly missingShare: number
  /** "residual": χ²_red above 1 + z √(2 / dof) */
  readonly chi2Z: number
  /** "broad": a component wider than this × the matched neighbour components' median width */
  readonly broadFactor: number
  /** "negative": a 3-channel mean of the residual below −negSigma · rms / √3 */
  readonly negSigma: number
  /**
   * a new solution is kept only when its criterion (AICc + `coherence` × the share of the
   * neighbours' weight whose count differs) is lower by more than this
   */
  readonly aiccMargin: number
  /** weight, in AICc units, of disagreeing with the neighbours' component counts */
  readonly coherence: number
  /**
   * reward, in AICc units, of each component of a solution at least `rewardShare` of the
   * neighbours' weight shares, times that share, each neighbour component supporting one component at
   * most ({@link matchedSupportOf}): the component-level neighbour term of the acceptance
   */
  readonly supportReward: number
  /**
   * the matched-filter S/N a component needs when at least `supportedShare` of the neighbours'
   * weight has a component at its velocity (others need the fit's `mf_snr_min`)
   */
  readonly supportedMfSnr: number
  /** the amplitude S/N such a component needs (others need the fit's `snr_min`) */
  readonly supportedSnr: number
  /** also guess each nearest (4-)neighbour's own solution */
  readonly neighbourSolutions: boolean
  /** also guess from the neighbours' components matched across neighbours (any count) */
  readonly matched: boolean
  /** the share of the neighbours' weight a component needs for the lower thresholds (`supportedSnr`, `supportedMfSnr`) */
  readonly supportedShare: number
  /**
   * from this share of the neighbours' weight up to `supportedShare`, a component's thresholds
   * fall linearly from the fit's to the supported ones (at or above `supportedShare`: no ramp)
   */
  readonly supportedFrom: number
  /** the share of the neighbours' weight a component needs for `supportReward` */
  readonly rewardShare: number
  /** the share of the neighbours' weight that must have the component when the spectrum has none */
  readonly emptySupport: number
  /** model evaluations per LM solve at most */
  readonly maxEvaluations: number
  /**
   * also guess from the stacked spectrum of the neighbourhood (needs the neighbours' spectra:
   * `spectrum` over the block grown by `passes × radius`)
   */
  readonly stack: boolean
}

/**
 * @since 0.2.0
 * @category constants
 */
export const DEFAULT_REFIT_OPTIONS: RefitOptions = Object.freeze({
  radius: 1,
  passes: 4,
  majority: 0.3,
  missingShare: 0.3,
  chi2Z: 0.25,
  broadFactor: 2,
  negSigma: 5,
  aiccMargin: 1e-6,
  coherence: 7,
  supportReward: 16,
  supportedMfSnr: 2,
  supportedSnr: 1,
  supportedShare: 0.5,
  supportedFrom: 0.3,
  rewardShare: 0.25,
  emptySupport: 1,
  matched: true,
  neighbourSolutions: false,
  maxEvaluations: 2000,
  stack: false
})

/**
 * A neighbour's row and its weight (1 / distance).
 *
 * @since 0.2.0
 * @category models
 */
export interface Neighbour {
  readonly row: DecompositionRow
  readonly weight: number
}

/**
 * A row that can take part: fitted (not blank, not deferred).
 *
 * @since 0.2.0
 * @category flags
 */
export const isFitted = (row: DecompositionRow | undefined): row is DecompositionRow =>
  row !== undefined && row.rms !== null && row.n_components >= 0

/**
 * The weighted majority count of the neighbours and its share of their total weight
 * (ties go to the smaller count, so the choice does not depend on the neighbours' order).
 *
 * @since 0.2.0
 * @category flags
 */
export const majorityCount = (neighbours: ReadonlyArray<Neighbour>): { count: number; share: number } => {
  const w = new Map<number, number>()
  let total = 0
  for (const n of neighbours) {
    w.set(n.row.n_components, (w.get(n.row.n_components) ?? 0) + n.weight)
    total += n.weight
  }
  let count = -1
  let best = -1
  for (const [c, v] of [...w.entries()].sort((a, b) => a[0] - b[0])) {
    if (v > best) {
      best = v
      count = c
    }
  }
  return { count, share: total > 0 ? best / total : 0 }
}

const FWHM = 2 * Math.sqrt(2 * Math.LN2)

/** Two components overlap in velocity: means closer than the wider width. */
const overlaps = (m1: number, s1: number, m2: number, s2: number): boolean => Math.abs(m1 - m2) <= Math.max(s1, s2)

/**
 * The share of the neighbours' weight with a component overlapping (`mean`, `stddev`).
 *
 * @since 0.3.0
 * @category flags
 */
export const supportOf = (mean: number, stddev: number, neighbours: ReadonlyArray<Neighbour>): number => {
  let w = 0
  let total = 0
  for (const n of neighbours) {
    total += n.weight
    for (let j = 0; j < n.row.n_components; j++) {
      if (overlaps(mean, stddev, n.row.component_means[j], n.row.component_stddevs[j])) {
        w += n.weight
        break
      }
    }
  }
  return total > 0 ? w / total : 0
}

/**
 * The share of the neighbours' weight supporting each of `comps` when each neighbour
 * component supports one of them at most: the overlapping (component, neighbour component)
 * pairs are taken nearest in velocity first (ties by order), so two components splitting one
 * neighbour line are not both supported by it.
 *
 * @since 0.3.0
 * @category flags
 */
export const matchedSupportOf = (
  comps: ReadonlyArray<{ readonly mean: number; readonly stddev: number }>,
  neighbours: ReadonlyArray<Neighbour>
): Array<number> => {
  const shares = comps.map(() => 0)
  let total = 0
  for (const n of neighbours) {
    total += n.weight
    const pairs: Array<{ i: number; j: number; d: number }> = []
    comps.forEach((c, i) => {
      for (let j = 0; j < n.row.n_components; j++) {
        const m = n.row.component_means[j]
        if (overlaps(c.mean, c.stddev, m, n.row.component_stddevs[j])) pairs.push({ i, j, d: Math.abs(c.mean - m) })
      }
    })
    pairs.sort((a, b) => a.d - b.d || a.i - b.i || a.j - b.j)
    const usedOwn = new Set<number>()
    const usedTheirs = new Set<number>()
    for (const { i, j } of pairs) {
      if (usedOwn.has(i) || usedTheirs.has(j)) continue
      usedOwn.add(i)
      usedTheirs.add(j)
      shares[i] += n.weight
    }
  }
  return total > 0 ? shares.map((w) => w / total) : shares
}

/**
 * Whether the neighbours have a component, held by at least `share` of their weight, that
 * overlaps none of `row`'s: what the count flag misses when a wrong component stands in for it.
 *
 * @since 0.3.0
 * @category flags
 */
export const lacksShared = (row: DecompositionRow, neighbours: ReadonlyArray<Neighbour>, share: number): boolean => {
  for (const a of neighbours) {
    for (let i = 0; i < a.row.n_components; i++) {
      const m = a.row.component_means[i]
      const s = a.row.component_stddevs[i]
      let covered = false
      for (let j = 0; j < row.n_components && !covered; j++) covered = overlaps(m, s, row.component_means[j], row.component_stddevs[j])
      if (!covered && supportOf(m, s, neighbours) >= share) return true
    }
  }
  return false
}

const median = (xs: Array<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : 0.5 * (s[m - 1] + s[m])
}

/**
 * The flags `row` raises given its neighbours and its residual (data − model, NaN on blank
 * channels), in {@link REFIT_FLAGS} order.
 *
 * @since 0.2.0
 * @category flags
 */
export const flagsOf = (
  row: DecompositionRow,
  neighbours: ReadonlyArray<Neighbour>,
  residual: Float64Array,
  fSep: number,
  options: RefitOptions
): Array<RefitFlag> => {
  const out: Array<RefitFlag> = []
  const k = row.n_components
  if (neighbours.length > 0) {
    const m = majorityCount(neighbours)
    if (m.count !== k && m.share >= options.majority) out.push("count")
  }
  if (neighbours.length > 0 && lacksShared(row, neighbours, options.missingShare)) out.push("missing")
  const finite = residual.reduce((n, v) => (Number.isFinite(v) ? n + 1 : n), 0)
  const dof = finite - 3 * k
  if (row.chi2_reduced !== null && dof > 0 && row.chi2_reduced > 1 + options.chi2Z * Math.sqrt(2 / dof)) {
    out.push("residual")
  }
  if (k > 0 && neighbours.length > 0) {
    let broad = false
    for (let i = 0; i < k && !broad; i++) {
      const mu = row.component_means[i]
      const sd = row.component_stddevs[i]
      const widths: Array<number> = []
      for (const n of neighbours) {
        // the neighbour's component nearest in velocity, if it overlaps this one
        let bj = -1
        let bd = Infinity
        for (let j = 0; j < n.row.n_components; j++) {
          const d = Math.abs(n.row.component_means[j] - mu)
          if (d < bd) {
            bd = d
            bj = j
          }
        }
        if (bj >= 0 && bd < sd) widths.push(n.row.component_stddevs[bj])
      }
      if (widths.length > 0 && sd > options.broadFactor * median(widths)) broad = true
    }
    if (broad) out.push("broad")
  }
  for (let i = 0; i + 1 < k; i++) {
    const fw = FWHM * Math.min(row.component_stddevs[i], row.component_stddevs[i + 1])
    if (Math.abs(row.component_means[i + 1] - row.component_means[i]) < fSep * fw) {
      out.push("blended")
      break
    }
  }
  if (row.rms !== null && row.rms > 0) {
    const limit = (-options.negSigma * row.rms) / Math.sqrt(3)
    for (let i = 1; i + 1 < residual.length; i++) {
      const s = (residual[i - 1] + residual[i] + residual[i + 1]) / 3
      if (s < limit) {
        out.push("negative")
        break
      }
    }
  }
  return out
}
