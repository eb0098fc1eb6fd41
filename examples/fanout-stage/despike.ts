/**
 * A fan-out stage with a halo: after the fit, every chunk looks at each spectrum's eight
 * neighbours (radius 1, across chunk boundaries through `ctx.halo`) and "despikes" it: a
 * spectrum whose component count differs from a strict majority of its neighbours' takes
 * the components of the first such neighbour in (y, x) order, and the catalog publishes the
 * despiked rows instead of the fit's. It is a toy of a spatially coherent refit (a real one
 * would refit the spectrum from the neighbours' guesses: `ctx.spectra()`), written to show
 * the API; docs/fan-out-stages.md walks through it.
 *
 * Run it on the bundled sample:  node examples/fanout-stage/run.mjs   (after npm run build)
 */
import { Pipeline, type ResultSchema, Stage } from "@phs/core"
import { Effect } from "effect"

type Row = ResultSchema.DecompositionRow

/** The despiked row of `center` given its neighbours' rows (pure: the test checks it over the whole map). */
export const despike = (center: Row, neighbours: ReadonlyArray<Row>): Row => {
  const fitted = neighbours.filter((n) => n.n_components >= 0 && n.rms !== null)
  if (center.rms === null || fitted.length < 3) return center
  const votes = new Map<number, number>()
  for (const n of fitted) votes.set(n.n_components, (votes.get(n.n_components) ?? 0) + 1)
  const [count, n] = [...votes.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]
  if (count === center.n_components || n * 2 <= fitted.length) return center
  const donor = [...fitted].sort((a, b) => a.y - b.y || a.x - b.x).find((r) => r.n_components === count)!
  return {
    ...center,
    n_components: donor.n_components,
    component_amplitudes: donor.component_amplitudes,
    component_means: donor.component_means,
    component_stddevs: donor.component_stddevs,
    component_amplitude_errors: donor.component_amplitude_errors,
    component_mean_errors: donor.component_mean_errors,
    component_stddev_errors: donor.component_stddev_errors,
    // The adopted model was not fitted to this spectrum: its fit figures no longer apply.
    residual_rms: null,
    chi2_reduced: null,
    aicc: null
  }
}

/** The eight neighbours of (x, y) among `rows`. */
export const neighboursOf = (byPixel: ReadonlyMap<string, Row>, x: number, y: number): Row[] => {
  const out: Row[] = []
  for (let dy = -1; dy <= 1; dy++)
    for (let dx = -1; dx <= 1; dx++) {
      const r = byPixel.get(`${x + dx},${y + dy}`)
      if ((dx !== 0 || dy !== 0) && r !== undefined) out.push(r)
    }
  return out
}

/** The stage: one execution per chunk, reading a halo of radius 1 of the fit's rows. */
export const despikeStage = Stage.fanOut({
  name: "despike",
  after: "fit",
  halo: 1,
  run: (ctx) =>
    Effect.gen(function* () {
      const around = yield* ctx.halo(1)
      const byPixel = new Map([...ctx.rows, ...around].map((r) => [`${r.x},${r.y}`, r]))
      return ctx.rows.map((r) => despike(r, neighboursOf(byPixel, r.x, r.y)))
    })
})

/** split → fit → slow-fit → despike (per chunk) → catalog (publishes the despiked rows). */
export const pipeline: Pipeline.Pipeline = Pipeline.withStage(Pipeline.standard, despikeStage)
