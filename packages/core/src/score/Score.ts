/**
 * Scoring decompositions against labelled spectra with the criteria of Lindner et al.
 * (2015) as PHSpectra's benchmark applies them (docs/tuning.md): per spectrum, the true and
 * detected components are paired one to one by least total |Δmean|; a pair is correct when
 * 0 < A_fit/A_true < 10, |Δμ| < σ_true and 0.3 < σ_fit/σ_true < 2.5. Counts are summed
 * over spectra; precision = correct / detected, recall = correct / true.
 *
 * @since 0.1.0
 */
import { assign } from "./Assignment.js"
import { categoriesOf, type Component, type Labels, NO_CATEGORY, pixelKey } from "./Labels.js"

/**
 * The criteria, in one place.
 *
 * @since 0.1.0
 * @category constants
 */
export const CRITERIA = {
  /** A_fit / A_true strictly between these. */
  amplitudeRatio: [0, 10],
  /** |μ_fit − μ_true| below this many σ_true. */
  meanTolerance: 1,
  /** σ_fit / σ_true strictly between these. */
  widthRatio: [0.3, 2.5]
} as const

/**
 * What a spectrum, or a set of them, counts.
 *
 * @since 0.1.0
 * @category models
 */
export interface Counts {
  readonly spectra: number
  readonly nTrue: number
  readonly nDetected: number
  readonly nCorrect: number
}

/**
 * Counts with their precision, recall and F1.
 *
 * @since 0.1.0
 * @category models
 */
export interface Figures extends Counts {
  readonly precision: number
  readonly recall: number
  readonly f1: number
}

/**
 * A scored set: overall and per category (categories without spectra left out).
 *
 * @since 0.1.0
 * @category models
 */
export interface Report {
  readonly overall: Figures
  readonly categories: Readonly<Record<string, Figures>>
  /** Labelled spectra with no prediction, scored as zero detections. */
  readonly missing: number
}

const isFinite = (c: Component): boolean => Number.isFinite(c.amplitude) && Number.isFinite(c.mean) && Number.isFinite(c.stddev)

/**
 * Whether a detected component is a correct detection of a true one.
 *
 * @since 0.1.0
 * @category scoring
 */
export const matches = (truth: Component, detected: Component): boolean => {
  const amplitude = truth.amplitude > 0 ? detected.amplitude / truth.amplitude : 0
  const width = truth.stddev > 0 ? detected.stddev / truth.stddev : 0
  return (
    amplitude > CRITERIA.amplitudeRatio[0] &&
    amplitude < CRITERIA.amplitudeRatio[1] &&
    Math.abs(detected.mean - truth.mean) < CRITERIA.meanTolerance * truth.stddev &&
    width > CRITERIA.widthRatio[0] &&
    width < CRITERIA.widthRatio[1]
  )
}

/**
 * Scores one spectrum. Non-finite detections count as detected but are never paired.
 *
 * @since 0.1.0
 * @category scoring
 */
export const scoreSpectrum = (truth: ReadonlyArray<Component>, detected: ReadonlyArray<Component>): Counts => {
  const usable = detected.filter(isFinite)
  let nCorrect = 0
  if (truth.length > 0 && usable.length > 0) {
    const pairs = assign(truth.map((t) => usable.map((d) => Math.abs(d.mean - t.mean))))
    pairs.forEach((j, i) => {
      if (j >= 0 && matches(truth[i], usable[j])) nCorrect++
    })
  }
  return { spectra: 1, nTrue: truth.length, nDetected: detected.length, nCorrect }
}

/**
 * Precision, recall and F1 of counts. With nothing detected precision is 1 when nothing
 * was there to find (else 0); with nothing to find recall is 1.
 *
 * @since 0.1.0
 * @category scoring
 */
export const figures = (c: Counts): Figures => {
  const precision = c.nDetected > 0 ? c.nCorrect / c.nDetected : c.nTrue === 0 ? 1 : 0
  const recall = c.nTrue > 0 ? c.nCorrect / c.nTrue : 1
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0
  return { ...c, precision, recall, f1 }
}

const add = (a: Counts, b: Counts): Counts => ({
  spectra: a.spectra + b.spectra,
  nTrue: a.nTrue + b.nTrue,
  nDetected: a.nDetected + b.nDetected,
  nCorrect: a.nCorrect + b.nCorrect
})

const ZERO: Counts = { spectra: 0, nTrue: 0, nDetected: 0, nCorrect: 0 }

/**
 * Scores predictions against labels. `predicted` gives a pixel's detected components, or
 * undefined when the pixel has no prediction (then it counts as zero detections).
 *
 * @since 0.1.0
 * @category scoring
 */
export const scoreLabels = (
  labels: Labels,
  predicted: (x: number, y: number) => ReadonlyArray<Component> | undefined
): Report => {
  const totals = new Map<string, Counts>(categoriesOf(labels).map((c) => [c, ZERO]))
  let overall = ZERO
  let missing = 0
  for (const s of labels.spectra) {
    const found = predicted(s.x, s.y)
    if (found === undefined) missing++
    const counts = scoreSpectrum(s.components, found ?? [])
    overall = add(overall, counts)
    const category = s.category ?? NO_CATEGORY
    totals.set(category, add(totals.get(category) ?? ZERO, counts))
  }
  const categories: Record<string, Figures> = {}
  for (const [name, counts] of totals) if (counts.spectra > 0) categories[name] = figures(counts)
  return { overall: figures(overall), categories, missing }
}

/**
 * A lookup of predictions by pixel, for {@link scoreLabels}.
 *
 * @since 0.1.0
 * @category utils
 */
export const byPixel = (
  spectra: Iterable<{ readonly x: number; readonly y: number; readonly components: ReadonlyArray<Component> }>
): ((x: number, y: number) => ReadonlyArray<Component> | undefined) => {
  const map = new Map<string, ReadonlyArray<Component>>()
  for (const s of spectra) map.set(pixelKey(s.x, s.y), s.components)
  return (x, y) => map.get(pixelKey(x, y))
}
