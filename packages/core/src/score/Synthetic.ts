/**
 * A synthetic benchmark matched to a cube: the seven categories of the standard benchmark
 * (docs/tuning.md) with the cube's channel count and noise, and their true components as
 * labels. Seeded, so the same inputs give the same benchmark.
 *
 * @since 0.1.0
 */
import { prng } from "../internal/prng.js"
import type { Component, Labels, LabelledSpectrum } from "./Labels.js"

/**
 * The categories: single bright, faint, narrow and broad lines, two or three separated or
 * blended lines, four or five crowded ones.
 *
 * @since 0.1.0
 * @category constants
 */
export const CATEGORIES = ["SB", "SF", "SN", "SBd", "MS", "MB", "C"] as const
export type Category = (typeof CATEGORIES)[number]

/**
 * Means stay this many channels away from either end.
 *
 * @since 0.1.0
 * @category constants
 */
export const MARGIN = 10

/**
 * The fewest channels a benchmark can have.
 *
 * @since 0.1.0
 * @category constants
 */
export const MIN_CHANNELS = 2 * MARGIN + 40

/** The standard benchmark's noise: its amplitude ranges are in the same units. */
const STANDARD_NOISE = 0.25

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly seed: number
  readonly perCategory: number
  readonly nChannels: number
  /** The noise σ, in the data's units. */
  readonly noise: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Benchmark {
  /** Spectrum-major data: pixel (x, y) at `(y · perCategory + x) · nChannels`; y is the category. */
  readonly data: Float32Array
  readonly labels: Labels
  /** How the amplitudes were set: the standard benchmark's, or scaled to its signal-to-noise. */
  readonly amplitudes: "standard" | "scaled"
}

type Rand = () => number

/**
 * The standard benchmark's amplitudes are in kelvin for σ = 0.25 K, with a bright line
 * above 7σ and a faint one at 2–6σ. When the cube's noise leaves those ranges empty, every
 * amplitude is scaled by σ / 0.25: the standard benchmark's signal-to-noise.
 */
const amplitudeScale = (noise: number): number => {
  const brightOk = Math.max(1, 7 * noise) < 5
  const faintOk = Math.max(0.3, 2 * noise) < Math.min(0.8, 6 * noise)
  return brightOk && faintOk ? 1 : noise / STANDARD_NOISE
}

const componentsOf = (category: Category, rand: Rand, nChannels: number, noise: number, scale: number): Component[] => {
  const uniform = (a: number, b: number) => a + (b - a) * rand()
  const mean = () => uniform(MARGIN, nChannels - MARGIN)
  const amp = (a: number, b: number) => uniform(a * scale, b * scale)
  const sn = scale === 1 ? noise : STANDARD_NOISE
  switch (category) {
    case "SB":
      return [{ amplitude: amp(Math.max(1, 7 * sn), 5), mean: mean(), stddev: uniform(3, 10) }]
    case "SF":
      return [{ amplitude: amp(Math.max(0.3, 2 * sn), Math.min(0.8, 6 * sn)), mean: mean(), stddev: uniform(3, 10) }]
    case "SN":
      return [{ amplitude: amp(1, 5), mean: mean(), stddev: uniform(1, 2.5) }]
    case "SBd":
      return [{ amplitude: amp(0.5, 3), mean: mean(), stddev: uniform(10, 20) }]
    case "MS": {
      // 2–3 lines, every pair further apart than 4 × the wider width.
      for (;;) {
        const k = 2 + Math.floor(rand() * 2)
        const out: Component[] = []
        for (let tries = 0; out.length < k && tries < 1000; tries++) {
          const c = { amplitude: amp(0.5, 4), mean: mean(), stddev: uniform(2, 8) }
          if (out.every((o) => Math.abs(o.mean - c.mean) > 4 * Math.max(o.stddev, c.stddev))) out.push(c)
        }
        if (out.length === k) return out
      }
    }
    case "MB": {
      // 2–3 lines, each 1.5–3 × the wider width from the previous one.
      for (;;) {
        const k = 2 + Math.floor(rand() * 2)
        const out: Component[] = [{ amplitude: amp(0.5, 4), mean: mean(), stddev: uniform(3, 8) }]
        for (let tries = 0; out.length < k && tries < 1000; tries++) {
          const prev = out[out.length - 1]
          const stddev = uniform(3, 8)
          const gap = uniform(1.5, 3) * Math.max(stddev, prev.stddev)
          const c = { amplitude: amp(0.5, 4), mean: prev.mean + (rand() < 0.5 ? -gap : gap), stddev }
          if (c.mean < MARGIN || c.mean > nChannels - MARGIN) continue
          if (out.every((o) => Math.abs(o.mean - c.mean) >= 1.5 * Math.max(o.stddev, c.stddev))) out.push(c)
        }
        if (out.length === k) return out
      }
    }
    case "C": {
      const k = 4 + Math.floor(rand() * 2)
      return Array.from({ length: k }, () => ({ amplitude: amp(0.3, 3), mean: mean(), stddev: uniform(2, 6) }))
    }
  }
}

/**
 * Generates the benchmark. `nChannels` must be at least {@link MIN_CHANNELS} and `noise`
 * positive (the caller checks; a RangeError otherwise).
 *
 * @since 0.1.0
 * @category constructors
 */
export const generate = (o: Options): Benchmark => {
  if (!Number.isInteger(o.nChannels) || o.nChannels < MIN_CHANNELS) throw new RangeError(`a benchmark needs at least ${MIN_CHANNELS} channels, got ${o.nChannels}`)
  if (!(o.noise > 0) || !Number.isFinite(o.noise)) throw new RangeError(`the noise must be positive, got ${o.noise}`)
  if (!Number.isInteger(o.perCategory) || o.perCategory < 1) throw new RangeError(`perCategory must be a positive integer, got ${o.perCategory}`)
  const scale = amplitudeScale(o.noise)
  const n = o.nChannels
  const data = new Float32Array(CATEGORIES.length * o.perCategory * n)
  const spectra: LabelledSpectrum[] = []
  CATEGORIES.forEach((category, y) => {
    for (let x = 0; x < o.perCategory; x++) {
      // One stream per spectrum, so a spectrum does not depend on how many others there are.
      const rand = prng((o.seed * 7919 + y) * 1_000_003 + x)
      const components = componentsOf(category, rand, n, o.noise, scale).sort((a, b) => a.mean - b.mean)
      const at = (y * o.perCategory + x) * n
      for (let i = 0; i < n; i += 2) {
        // Box–Muller: two normal deviates per pair of uniforms.
        const r = Math.sqrt(-2 * Math.log(1 - rand()))
        const t = 2 * Math.PI * rand()
        data[at + i] = o.noise * r * Math.cos(t)
        if (i + 1 < n) data[at + i + 1] = o.noise * r * Math.sin(t)
      }
      for (const c of components) {
        for (let i = 0; i < n; i++) data[at + i] += c.amplitude * Math.exp(-((i - c.mean) ** 2) / (2 * c.stddev * c.stddev))
      }
      spectra.push({ x, y, category, components })
    }
  })
  return { data, labels: { spectra, categories: [...CATEGORIES] }, amplitudes: scale === 1 ? "standard" : "scaled" }
}
