/**
 * `phs export RUN --fits DIR`: 2-D FITS images (BITPIX -32) of n_components, rms and the
 * integrated intensity, with the cube's spatial WCS, NaN where a pixel has no value. The
 * files are read back with a minimal FITS reader written here, and compared with the
 * cube's header (core's FITS reader) and the rows core's `ResultParquet.decodeRows` reads.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { MAP_VALUE_NAMES } from "../packages/cli/src/plot/Maps.js"
import * as Fits from "../packages/core/src/Fits.js"
import { decodeRows } from "../packages/core/src/ResultParquet.js"
import type { DecompositionRow } from "../packages/core/src/ResultSchema.js"
import { cubeFits } from "./support/cubes.js"
import { phs, tempDir } from "./support/cli.js"

const SAMPLE = path.resolve("examples/grs-5x5.fits")

interface Image {
  readonly cards: Map<string, string | number | boolean>
  readonly keywords: string[]
  readonly data: Float32Array
  readonly size: number
}

/** A minimal reader of a 2-D FITS image: fixed-format cards up to END, big-endian float32 data. */
const readImage = (bytes: Uint8Array): Image => {
  const text = new TextDecoder("latin1").decode(bytes)
  const cards = new Map<string, string | number | boolean>()
  const keywords: string[] = []
  let end = -1
  for (let i = 0; i * 80 < text.length; i++) {
    const card = text.slice(i * 80, i * 80 + 80)
    const key = card.slice(0, 8).trim()
    if (key === "END") {
      end = i
      break
    }
    keywords.push(key)
    if (card.slice(8, 10) !== "= ") continue
    const raw = card.slice(10)
    const str = /^\s*'((?:[^']|'')*)'/.exec(raw)
    if (str !== null) cards.set(key, str[1].replace(/''/g, "'").trimEnd())
    else {
      const value = raw.split("/")[0].trim()
      cards.set(key, value === "T" ? true : value === "F" ? false : Number(value))
    }
  }
  expect(end).toBeGreaterThan(0)
  const dataOffset = Math.ceil(((end + 1) * 80) / 2880) * 2880
  const nx = cards.get("NAXIS1") as number
  const ny = cards.get("NAXIS2") as number
  const view = new DataView(bytes.buffer, bytes.byteOffset + dataOffset, nx * ny * 4)
  return { cards, keywords, data: Float32Array.from({ length: nx * ny }, (_, i) => view.getFloat32(i * 4, false)), size: bytes.length }
}

const integrated = (r: DecompositionRow) => r.component_amplitudes.reduce((s, a, k) => s + a * r.component_stddevs[k] * Math.sqrt(2 * Math.PI), 0)

let dir: string
let work: string
const runs = new Map<string, { runId: string; nx: number; ny: number; rows: DecompositionRow[] }>()

beforeAll(async () => {
  dir = tempDir("phs-export-")
  work = path.join(dir, "w")
  const synthetic = path.join(dir, "synthetic.fits")
  fs.writeFileSync(synthetic, cubeFits({ nx: 3, ny: 4, nchan: 96, seed: 11, blankPixels: [1, 10] }))
  for (const args of [["pipeline", SAMPLE], ["pipeline", synthetic, "--survey", "synth"]]) {
    const r = (await phs([...args, "--workdir", work, "--json"]))
    expect(r.code, r.stderr).toBe(0)
  }
  const list = JSON.parse((await phs(["runs", "--json", "--workdir", work])).stdout) as Array<{ runId: string; survey: string; nx: number; ny: number }>
  for (const run of list) {
    const part = path.join(work, "blobs", "decompositions", `survey=${run.survey}`)
    const rows: DecompositionRow[] = []
    for (const f of fs.readdirSync(part).filter((f) => f.startsWith(run.runId))) {
      rows.push(...(await Effect.runPromise(decodeRows(new Uint8Array(fs.readFileSync(path.join(part, f)))))))
    }
    runs.set(run.survey, { runId: run.runId, nx: run.nx, ny: run.ny, rows })
  }
}, 120_000)

describe("phs export --fits", () => {
  it("writes n_components, rms and integrated intensity as 2-D float32 images with the cube's WCS", async () => {
    const run = runs.get("grs-5x5")!
    const out = path.join(dir, "maps")
    const r = (await phs(["export", run.runId.slice(0, 14), "--fits", out, "--workdir", work]))
    expect(r.code, r.stderr).toBe(0)
    const names = ["n_components", "rms", "integrated"]
    expect(r.stdout.trim().split("\n")).toEqual(names.map((n) => path.join(out, `${run.runId}-${n}.fits`)))
    const cube = await Effect.runPromise(Fits.readHeader(Fits.fromBytes(new Uint8Array(fs.readFileSync(SAMPLE)))))
    const expected: Record<string, (r: DecompositionRow) => number> = {
      n_components: (row) => row.n_components,
      rms: (row) => row.rms!,
      integrated
    }
    for (const name of names) {
      const image = readImage(new Uint8Array(fs.readFileSync(path.join(out, `${run.runId}-${name}.fits`))))
      expect(image.size % 2880).toBe(0)
      expect(image.keywords.slice(0, 5)).toEqual(["SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2"])
      expect([image.cards.get("SIMPLE"), image.cards.get("BITPIX"), image.cards.get("NAXIS"), image.cards.get("NAXIS1"), image.cards.get("NAXIS2")]).toEqual([true, -32, 2, 5, 5])
      for (const k of ["CTYPE1", "CTYPE2", "CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2", "CDELT1", "CDELT2", "CUNIT1", "CUNIT2", "EQUINOX", "RADESYS"]) {
        expect(image.cards.get(k), k).toEqual(cube.cards[k])
      }
      expect(image.keywords.some((k) => /^(NAXIS3|CTYPE3|CRVAL3|CDELT3|CRPIX3)$/.test(k))).toBe(false)
      expect(image.cards.get("BTYPE")).toBe(name)
      const want = new Float32Array(25).fill(Number.NaN)
      for (const row of run.rows) want[row.y * 5 + row.x] = expected[name](row)
      expect(Array.from(image.data)).toEqual(Array.from(want))
      expect(image.data.some(Number.isNaN)).toBe(false)
    }
    expect(readImage(new Uint8Array(fs.readFileSync(path.join(out, `${run.runId}-rms.fits`)))).cards.get("BUNIT")).toBe("K")
    expect(readImage(new Uint8Array(fs.readFileSync(path.join(out, `${run.runId}-integrated.fits`)))).cards.get("BUNIT")).toBe("K pix")
  })

  it("writes NaN for blank spectra, no WCS cards for a cube without any, and the maps asked for with --value", async () => {
    const run = runs.get("synth")!
    const out = path.join(dir, "synth-maps")
    const r = (await phs(["export", run.runId, "--fits", out, "--value", "integrated", "--value", "nan_channels", "--workdir", work]))
    expect(r.code, r.stderr).toBe(0)
    expect(fs.readdirSync(out).sort()).toEqual([`${run.runId}-integrated.fits`, `${run.runId}-nan_channels.fits`])
    const image = readImage(new Uint8Array(fs.readFileSync(path.join(out, `${run.runId}-integrated.fits`))))
    expect([image.cards.get("NAXIS1"), image.cards.get("NAXIS2")]).toEqual([3, 4])
    expect(image.keywords.some((k) => k.startsWith("CTYPE") || k.startsWith("CRVAL"))).toBe(false)
    const blank = run.rows.filter((row) => row.rms === null).map((row) => row.y * 3 + row.x).sort((a, b) => a - b)
    expect(blank).toEqual([1, 10])
    const want = new Float32Array(12).fill(Number.NaN)
    for (const row of run.rows) if (row.rms !== null) want[row.y * 3 + row.x] = integrated(row)
    expect(Array.from(image.data)).toEqual(Array.from(want))
    const nan = readImage(new Uint8Array(fs.readFileSync(path.join(out, `${run.runId}-nan_channels.fits`))))
    expect(Array.from(nan.data)).toEqual(Array.from({ length: 12 }, (_, p) => (blank.includes(p) ? 96 : 0)))
  })

  it("writes the viewer's quantities under the viewer's names: brightest_dispersion (km/s) and residual_rms (K)", async () => {
    const run = runs.get("grs-5x5")!
    const out = path.join(dir, "viewer-maps")
    const r = await phs(["export", run.runId, "--fits", out, "--value", "brightest_dispersion", "--value", "residual_rms", "--workdir", work])
    expect(r.code, r.stderr).toBe(0)
    const want = (f: (row: DecompositionRow) => number | null) => {
      const a = new Float32Array(run.nx * run.ny).fill(Number.NaN)
      for (const row of run.rows) {
        const x = row.rms === null || row.n_components < 0 ? null : f(row)
        if (x !== null) a[row.y * run.nx + row.x] = x
      }
      return Array.from(a)
    }
    const brightest = (row: DecompositionRow) => {
      if (row.component_amplitudes.length === 0) return null
      const k = row.component_amplitudes.indexOf(Math.max(...row.component_amplitudes))
      return row.component_velocity_dispersions![k]
    }
    expect(run.rows.some((row) => row.component_amplitudes.length > 1)).toBe(true)
    const sigma = readImage(new Uint8Array(fs.readFileSync(path.join(out, `${run.runId}-brightest_dispersion.fits`))))
    expect(sigma.cards.get("BUNIT")).toBe("km/s")
    expect(Array.from(sigma.data)).toEqual(want(brightest))
    const residual = readImage(new Uint8Array(fs.readFileSync(path.join(out, `${run.runId}-residual_rms.fits`))))
    expect(residual.cards.get("BUNIT")).toBe("K")
    expect(Array.from(residual.data)).toEqual(want((row) => row.residual_rms))
  })

  it("refuses an unknown --value naming the valid ones, one line, exit 2", async () => {
    for (const value of ["bogus", "integrated_intensities"]) {
      const r = await phs(["export", runs.get("grs-5x5")!.runId, "--fits", path.join(dir, "x"), "--value", value, "--workdir", work])
      expect(r.code, value).toBe(2)
      expect(r.stderr.trimEnd().split("\n"), value).toEqual([`phs: --value ${value}: expected one of ${MAP_VALUE_NAMES.join(", ")}`])
    }
  })

  it("refuses an unknown run: one line, exit 2", async () => {
    const r = (await phs(["export", "nope", "--fits", path.join(dir, "x"), "--workdir", work]))
    expect(r.code).toBe(2)
    expect(r.stderr.trimEnd()).toMatch(/^phs: no run nope in this workdir/)
    expect(fs.existsSync(path.join(dir, "x"))).toBe(false)
  })
})
