/**
 * Bad input to `phs pipeline`: one clear line, exit code 2, and no run left visible.
 */
import { describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { formatCard, rawHeader, writeCube } from "../packages/core/src/FitsWriter.js"
import { cubeFits } from "./support/cubes.js"
import { phs, tempDir } from "./support/cli.js"

const header = (cards: ReadonlyArray<[string, string | number | boolean]>, dataBytes = 0): Uint8Array => {
  const h = rawHeader([...cards.map(([k, v]) => formatCard(k, v)), "END".padEnd(80)])
  const out = new Uint8Array(h.length + Math.ceil(dataBytes / 2880) * 2880)
  out.set(h)
  return out
}

const goodCube = () => cubeFits({ nx: 2, ny: 2, nchan: 32 })

/** Where the data of a single-HDU file starts: the block after its END card. */
const dataStart = (bytes: Uint8Array): number => {
  for (let card = 0; card * 80 < bytes.length; card++) {
    if (Buffer.from(bytes.subarray(card * 80, card * 80 + 8)).toString("latin1").trimEnd() === "END") return Math.ceil(((card + 1) * 80) / 2880) * 2880
  }
  throw new Error("no END card")
}

const cases: ReadonlyArray<{ name: string; file?: (() => Uint8Array) | null; args?: string[]; error: RegExp }> = [
  { name: "not a FITS file", file: () => new TextEncoder().encode("hello, this is not a cube\n".repeat(200)), error: /not a FITS file/ },
  {
    name: "a truncated data section",
    file: () => cubeFits({ nx: 4, ny: 4, nchan: 64 }).slice(0, 2880 + 1000),
    error: /truncated/
  },
  {
    name: "a 2-D image",
    file: () => header([["SIMPLE", true], ["BITPIX", -32], ["NAXIS", 2], ["NAXIS1", 4], ["NAXIS2", 4]], 64),
    error: /NAXIS = 2/
  },
  {
    name: "an unsupported BITPIX",
    file: () => header([["SIMPLE", true], ["BITPIX", 24], ["NAXIS", 3], ["NAXIS1", 2], ["NAXIS2", 2], ["NAXIS3", 10]], 120),
    error: /BITPIX 24/
  },
  { name: "a cube of blank (NaN) spectra only", file: () => cubeFits({ nx: 3, ny: 3, nchan: 32, allBlank: true }), error: /blank/ },
  { name: "an unknown --param", args: ["--param", "betta=3"], error: /unknown parameter "betta".*beta/ },
  { name: "an out-of-range --param", args: ["--param", "beta=-1"], error: /beta/ },
  { name: "a non-numeric --param", args: ["--param", "beta=high"], error: /must be a number/ },
  { name: "a bad survey name", args: ["--survey", "../etc"], error: /survey name/ },
  { name: "a missing file", file: null, error: /must exist|no such/i }
]

describe("phs pipeline refuses bad input", () => {
  for (const c of cases) {
    it(`${c.name}: one line, exit 2, no run`, async () => {
      const dir = tempDir()
      const cube = path.join(dir, "cube.fits")
      if (c.file !== null) fs.writeFileSync(cube, (c.file ?? goodCube)())
      const r = (await phs(["pipeline", cube, "--workdir", path.join(dir, "w"), ...(c.args ?? [])]))
      expect(r.code).toBe(2)
      const lines = r.stderr.trim().split("\n")
      expect(lines.length).toBe(1)
      expect(lines[0]).toMatch(c.error)
      expect(r.stderr).not.toMatch(/\n\s+at /)
      const runs = (await phs(["runs", "--json", "--workdir", path.join(dir, "w")]))
      expect(runs.code).toBe(0)
      expect(JSON.parse(runs.stdout)).toEqual([])
    })
  }

  it("a cube in an image extension after an empty primary HDU runs, and the run says which HDU", async () => {
    const dir = tempDir()
    const primaryCube = writeCube({ nx: 2, ny: 2, nchan: 64, data: new Float32Array(256).map((_, i) => Math.exp(-(((i % 64) - 30) ** 2) / 8) * 3 + 0.01 * Math.sin(i * 7.3)) })
    const cube = path.join(dir, "cube.fits")
    // The same data after an empty primary, as archives write it.
    const empty = rawHeader([formatCard("SIMPLE", true), formatCard("BITPIX", 8), formatCard("NAXIS", 0), formatCard("EXTEND", true), "END".padEnd(80)])
    const ext = rawHeader([
      formatCard("XTENSION", "IMAGE"), formatCard("BITPIX", -32), formatCard("NAXIS", 3), formatCard("NAXIS1", 2), formatCard("NAXIS2", 2), formatCard("NAXIS3", 64),
      formatCard("PCOUNT", 0), formatCard("GCOUNT", 1), formatCard("EXTNAME", "SCI"), "END".padEnd(80)
    ])
    fs.writeFileSync(cube, Buffer.concat([empty, ext, primaryCube.subarray(dataStart(primaryCube))]))
    const r = await phs(["pipeline", cube, "--workdir", path.join(dir, "w"), "--param", "beta=3"])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/^phs: note: the cube is in HDU 1 \(image extension "SCI"\)$/m)
    const runs = await phs(["runs", "--json", "--workdir", path.join(dir, "w")])
    expect(JSON.parse(runs.stdout)).toMatchObject([{ status: "COMPLETED", nSpectra: 4, nChannels: 64 }])
  })

  it("the same cube with good parameters runs", async () => {
    const dir = tempDir()
    const cube = path.join(dir, "cube.fits")
    fs.writeFileSync(cube, writeCube({ nx: 2, ny: 2, nchan: 64, data: new Float32Array(256).map((_, i) => Math.exp(-(((i % 64) - 30) ** 2) / 8) * 3 + 0.01 * Math.sin(i * 7.3)) }))
    const r = (await phs(["pipeline", cube, "--workdir", path.join(dir, "w"), "--param", "beta=3", "--json"]))
    expect(r.stderr).toBe("")
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).status).toBe("COMPLETED")
  })
})
