/**
 * Synthetic cubes for tests: Gaussian lines on seeded white noise, optionally with blank
 * spectra and blank channel runs, as FITS bytes; a file of two cubes in image extensions.
 */
import { Effect } from "effect"
import * as Fits from "../../packages/core/src/Fits.js"
import { formatCard, rawHeader, writeCube } from "../../packages/core/src/FitsWriter.js"
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

/** A cube in an IMAGE extension (named `name`): a primary cube's data under an extension header. */
export const imageExtension = (o: { readonly nx: number; readonly ny: number; readonly nchan: number; readonly data: Float32Array; readonly name: string }): Uint8Array => {
  const alone = writeCube({ nx: o.nx, ny: o.ny, nchan: o.nchan, data: o.data })
  const offset = Effect.runSync(Fits.readHeader(Fits.fromBytes(alone))).dataOffset
  const h = rawHeader([
    formatCard("XTENSION", "IMAGE"), formatCard("BITPIX", -32), formatCard("NAXIS", 3), formatCard("NAXIS1", o.nx), formatCard("NAXIS2", o.ny), formatCard("NAXIS3", o.nchan),
    formatCard("PCOUNT", 0), formatCard("GCOUNT", 1), formatCard("EXTNAME", o.name), "END".padEnd(80)
  ])
  return Buffer.concat([h, alone.subarray(offset)])
}

/** An empty primary HDU (NAXIS = 0) followed by extensions. */
export const emptyPrimary = (): Uint8Array =>
  rawHeader([formatCard("SIMPLE", true), formatCard("BITPIX", 8), formatCard("NAXIS", 0), formatCard("EXTEND", true), "END".padEnd(80)])

/**
 * A file of two cubes (an empty primary, then IMAGE extensions "FIRST", 2 × 2, and "SECOND",
 * 3 × 2, both `nchan` channels), and the second cube alone as a file of its own: `--hdu 2`
 * of the one must read what the other holds.
 */
export const twoCubes = (nchan: number, seeds: { readonly first: number; readonly second: number } = { first: 3, second: 4 }) => {
  const first = cubeData({ nx: 2, ny: 2, nchan, seed: seeds.first })
  const second = cubeData({ nx: 3, ny: 2, nchan, seed: seeds.second })
  return {
    first,
    second,
    file: Buffer.concat([emptyPrimary(), imageExtension({ nx: 2, ny: 2, nchan, data: first, name: "FIRST" }), imageExtension({ nx: 3, ny: 2, nchan, data: second, name: "SECOND" })]),
    secondAlone: writeCube({ nx: 3, ny: 2, nchan, data: second })
  }
}
