/**
 * Synthetic cubes for tests: Gaussian lines on seeded white noise, optionally with blank
 * spectra and blank channel runs, as FITS bytes.
 */
import { writeCube } from "../../packages/core/src/FitsWriter.js"
import { prng } from "../../packages/core/src/internal/prng.js"

export { prng }

export interface CubeOptions {
  readonly nx: number
  readonly ny: number
  readonly nchan?: number
  readonly seed?: number
  readonly noise?: number
  /** Pixels (index y*nx+x) that are entirely NaN. */
  readonly blankPixels?: ReadonlyArray<number>
  /** Every spectrum NaN. */
  readonly allBlank?: boolean
}

/** Spectrum-major data of a synthetic cube: one to three lines per spectrum. */
export const cubeData = (o: CubeOptions): Float32Array => {
  const nchan = o.nchan ?? 128
  const rnd = prng(o.seed ?? 1)
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd())
  const data = new Float32Array(o.nx * o.ny * nchan)
  const blank = new Set(o.blankPixels ?? [])
  for (let p = 0; p < o.nx * o.ny; p++) {
    const lines = 1 + Math.floor(rnd() * 3)
    const comps = Array.from({ length: lines }, () => ({ a: 1 + 4 * rnd(), mu: 15 + rnd() * (nchan - 30), sigma: 1.5 + 4 * rnd() }))
    for (let c = 0; c < nchan; c++) {
      let v = (o.noise ?? 0.2) * gauss()
      for (const g of comps) v += g.a * Math.exp(-((c - g.mu) ** 2) / (2 * g.sigma ** 2))
      data[p * nchan + c] = o.allBlank || blank.has(p) ? Number.NaN : v
    }
  }
  return data
}

/** A synthetic cube as FITS bytes (BITPIX -32). */
export const cubeFits = (o: CubeOptions): Uint8Array =>
  writeCube({ nx: o.nx, ny: o.ny, nchan: o.nchan ?? 128, data: cubeData(o) })
