// decomposeBatchMulti(): every parameter set's results are decomposeBatch's for that set
// alone, bit for bit (every field), on real GRS spectra and synthetic ones, at any thread count.
import { describe, expect, it } from "vitest"
import { type Decomposition, decomposeBatch, decomposeBatchMulti, type FitParams, InvalidFitParams } from "@phs/fit-native"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { spectrum, uniform } from "./helpers.js"

const here = path.dirname(fileURLToPath(import.meta.url))

/** A FITS cube (BITPIX −32, axes x, y, velocity) as spectrum-major float32. */
const readCube = (file: string): { nChannels: number; spectra: Float32Array } => {
  const buf = fs.readFileSync(file)
  const header: Record<string, string> = {}
  let at = 0
  for (;;) {
    const card = buf.subarray(at, at + 80).toString("latin1")
    at += 80
    if (card.slice(0, 8).trim() === "END") break
    if (card[8] === "=") header[card.slice(0, 8).trim()] = card.slice(10).split("/")[0].trim()
  }
  at = Math.ceil(at / 2880) * 2880
  const [nx, ny, nc] = [Number(header.NAXIS1), Number(header.NAXIS2), Number(header.NAXIS3)]
  const view = new DataView(buf.buffer, buf.byteOffset + at)
  const out = new Float32Array(nx * ny * nc)
  for (let k = 0; k < nc; k++) for (let p = 0; p < nx * ny; p++) out[p * nc + k] = view.getFloat32(4 * (k * nx * ny + p), false)
  return { nChannels: nc, spectra: out }
}

/** Every field of a decomposition, numbers by their bits (NaN, −0 and all). */
const exact = (d: Decomposition): string => {
  const f = new Float64Array(1)
  const u = new Uint32Array(f.buffer)
  return JSON.stringify(d, (_, v: unknown) => (typeof v === "number" ? ((f[0] = v), `${u[1].toString(16)}.${u[0].toString(16)}`) : v))
}

const BETAS = Array.from({ length: 13 }, (_, i) => 2 + 0.25 * i)

/** The GRS field, plus copies with blank runs, a blank, an all-zero and a too-short spectrum. */
const grs = (): { nChannels: number; spectra: Float32Array } => {
  const { nChannels: n, spectra } = readCube(path.join(here, "../../../examples/grs-5x5.fits"))
  const count = spectra.length / n
  const out = new Float32Array((count + 6) * n)
  out.set(spectra)
  for (let j = 0; j < 3; j++) {
    const copy = spectra.slice(j * 7 * n, (j * 7 + 1) * n)
    copy.fill(Number.NaN, 40 * j + 10, 40 * j + 30)
    if (j === 2) copy[200] = Number.POSITIVE_INFINITY
    out.set(copy, (count + j) * n)
  }
  out.fill(Number.NaN, (count + 3) * n, (count + 4) * n)
  // (count + 4): all zero; (count + 5): five finite channels
  out.fill(Number.NaN, (count + 5) * n, (count + 6) * n)
  out.set(spectra.subarray(100, 105), (count + 5) * n + 100)
  return { nChannels: n, spectra: out }
}

/** Spectra of 1–5 random lines each (seeded). */
const synthetic = (count: number, n: number, seed: number): Float32Array => {
  const u = uniform(seed)
  const out = new Float32Array(count * n)
  for (let s = 0; s < count; s++) {
    const k = 1 + Math.floor(u() * 5)
    const comps = Array.from({ length: k }, () => ({ amplitude: 0.3 + 3 * u(), mean: 20 + (n - 40) * u(), stddev: 1 + 9 * u() }))
    out.set(spectrum(n, comps, 0.25, seed * 7919 + s), s * n)
  }
  return out
}

/** Asserts that every set's results are decomposeBatch's for it alone; returns the fits computed. */
const expectSameAsAlone = async (spectra: Float32Array, n: number, sets: ReadonlyArray<Partial<FitParams>>, threads: number) => {
  const multi = await decomposeBatchMulti(spectra, n, sets, { threads, timeoutMs: 0 })
  expect(multi.sets).toBe(sets.length)
  expect(multi.spectra).toBe(spectra.length / n)
  for (const [k, set] of sets.entries()) {
    const alone = await decomposeBatch(spectra, n, set, { threads: 1, timeoutMs: 0 })
    expect(multi.decompositions(k).map(exact)).toEqual(alone.map(exact))
  }
  return multi.distinct
}

describe("decomposeBatchMulti", () => {
  it("gives each β of a sweep exactly decomposeBatch's results, on GRS spectra with blank channels", async () => {
    const { nChannels, spectra } = grs()
    const count = spectra.length / nChannels
    const sets = BETAS.map((beta) => ({ beta }))
    for (const threads of [1, 2, 8]) {
      const distinct = await expectSameAsAlone(spectra, nChannels, sets, threads)
      // fits are shared: far fewer than one per set and spectrum, at least one per spectrum
      expect(distinct).toBeGreaterThanOrEqual(count)
      expect(distinct).toBeLessThan((sets.length * count) / 2)
    }
  })

  it("does so on synthetic spectra, for a grid over two parameters with repeated and unordered sets", async () => {
    const n = 300
    const spectra = synthetic(40, n, 3)
    const sets: Partial<FitParams>[] = [
      { beta: 3.5 },
      { beta: 2, snr_min: 2 },
      { beta: 2 },
      { beta: 3.5 },
      { beta: 5, snr_min: 2 },
      { beta: 2.25, max_refine_iter: 0 },
      { beta: 4, mf_snr_min: 3, f_sep: 2, neg_thresh: 3 }
    ]
    const distinct = await expectSameAsAlone(spectra, n, sets, 2)
    expect(distinct).toBeLessThan(sets.length * 40)
  })

  it("fits once per spectrum when every set only differs in a β that keeps the same peaks", async () => {
    const n = 200
    // one bright isolated line, no noise: its only peak persists far above every β · rms
    const line = Float32Array.from(spectrum(n, [{ amplitude: 5, mean: 100, stddev: 4 }], 0.05, 11))
    const multi = await decomposeBatchMulti(line, n, [{ beta: 2 }, { beta: 3 }, { beta: 4 }], { threads: 1, timeoutMs: 0 })
    expect(multi.distinct).toBe(1)
    const [a, b] = [multi.decompositions(0)[0], multi.decompositions(2)[0]]
    expect(a.components).toEqual(b.components)
    expect(b.minPersistence).toBeCloseTo(2 * a.minPersistence, 12)
  })

  it("refuses bad parameter sets and set indices, and returns nothing for an empty cube", async () => {
    await expect(decomposeBatchMulti(new Float32Array(10), 10, [])).rejects.toThrow(InvalidFitParams)
    await expect(decomposeBatchMulti(new Float32Array(10), 10, [{ beta: 3 }, { beta: -1 }])).rejects.toThrow(/set 1: beta/)
    await expect(decomposeBatchMulti(new Float32Array(10), 3, [{}])).rejects.toThrow(RangeError)
    const empty = await decomposeBatchMulti(new Float32Array(0), 10, [{}, { beta: 2 }])
    expect(empty).toMatchObject({ sets: 2, spectra: 0, distinct: 0, bytes: 0 })
    const one = await decomposeBatchMulti(new Float32Array(10), 10, [{}])
    expect(() => one.decompositions(1)).toThrow(RangeError)
  })
})
