// A small spatially coherent field for the refit tests: two clouds whose components drift
// across the map, one faint at its edges, plus white noise; decomposed pixel by pixel.
import { decompose, DEFAULT_PARAMS, type Decomposition } from "@phs/fit-native"
import { prng } from "../../src/internal/prng.js"
import type { DecompositionRow } from "../../src/ResultSchema.js"

export const CHANNELS = 200

export const rowOf = (x: number, y: number, d: Decomposition): DecompositionRow => ({
  x, y, beta: DEFAULT_PARAMS.beta, rms: d.rms, min_persistence: Number.isFinite(d.minPersistence) ? d.minPersistence : null,
  n_components: d.components.length,
  component_amplitudes: d.components.map((c) => c.amplitude),
  component_means: d.components.map((c) => c.mean),
  component_stddevs: d.components.map((c) => c.stddev),
  nan_channels: d.nanChannels, residual_rms: d.residualRms, chi2_reduced: d.chi2Reduced, aicc: d.aicc,
  component_amplitude_errors: d.componentErrors.map((e) => e.amplitude),
  component_mean_errors: d.componentErrors.map((e) => e.mean),
  component_stddev_errors: d.componentErrors.map((e) => e.stddev),
  run_id: "test", cube: "test.fits", lon: null, lat: null,
  component_velocities: null, component_velocity_dispersions: null, component_integrated_intensities: null
})

export interface Field {
  readonly nx: number
  readonly ny: number
  readonly spectra: Array<Float32Array>
  readonly rows: Array<DecompositionRow>
}

/** `blank(x, y)` pixels are all NaN. */
export const makeField = (nx: number, ny: number, seed: number, blank: (x: number, y: number) => boolean = () => false): Field => {
  const rand = prng(seed)
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())
  const spectra: Array<Float32Array> = []
  const rows: Array<DecompositionRow> = []
  for (let y = 0; y < ny; y++) {
    for (let x = 0; x < nx; x++) {
      const s = new Float32Array(CHANNELS)
      if (blank(x, y)) s.fill(NaN)
      else {
        const a2 = 1.2 * Math.exp(-((x - nx / 2) ** 2 + (y - ny / 2) ** 2) / (2 * (nx / 3) ** 2))
        for (let i = 0; i < CHANNELS; i++) {
          const m1 = 80 + 0.3 * x, m2 = 96 + 0.2 * y
          s[i] = 3 * Math.exp(-0.5 * ((i - m1) / 4) ** 2) + a2 * Math.exp(-0.5 * ((i - m2) / 5) ** 2) + 0.25 * gauss()
        }
      }
      spectra.push(s)
      rows.push(rowOf(x, y, decompose(s)))
    }
  }
  return { nx, ny, spectra, rows }
}
