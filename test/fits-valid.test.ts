/**
 * Every FITS file phs writes is valid FITS, as astropy's `verify("exception")` judges it:
 * the maps `phs export` writes (every quantity) and the cubes `FitsWriter.writeCube` writes
 * for fixtures. Card formatting refuses what is not printable ASCII; texts are spelled out.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { commentCards, formatCard, toAscii, writeCube } from "../packages/core/src/FitsWriter.js"
import { MAP_VALUE_NAMES } from "../packages/cli/src/plot/Maps.js"
import { astropyAvailable, astropyProblems, astropyRequired } from "./support/astropy.js"
import { phs, tempDir } from "./support/cli.js"
import { cubeData } from "./support/cubes.js"

const SAMPLE = path.resolve("examples/grs-5x5.fits")
const VALUES = MAP_VALUE_NAMES

describe("FITS cards are printable ASCII", () => {
  it("formatCard refuses other characters; toAscii spells phs's symbols out", () => {
    expect(() => formatCard("BTYPE", "Σ A·σ")).toThrow(/printable ASCII/)
    expect(() => formatCard("BUNIT", "K", "√2")).toThrow(/printable ASCII/)
    expect(toAscii("Σ A·σ·√(2π) χ² ±")).toBe("sum A*sigma*sqrt(2pi) chi^2 ?")
    const cards = commentCards(`${"x".repeat(70)} Σ`)
    expect(cards.map((c) => c.length)).toEqual([80, 80])
    expect(cards.join("")).toMatch(/^[\x20-\x7e]*$/)
  })
})

const available = astropyAvailable()

describe("astropy opens every FITS file phs writes", () => {
  if (!available && astropyRequired()) {
    it("has astropy (CI installs python3-astropy)", () => {
      expect.fail("CI=true but /usr/bin/python3 cannot import astropy.io.fits")
    })
    return
  }
  let dir = ""
  beforeAll(async () => {
    if (!available) return
    dir = tempDir("phs-fits-valid-")
    const work = path.join(dir, "w")
    const out = path.join(dir, "maps")
    const run = await phs(["pipeline", SAMPLE, "--workdir", work, "--json"])
    expect(run.code, run.stderr).toBe(0)
    const runs = JSON.parse((await phs(["runs", "--json", "--workdir", work])).stdout) as Array<{ runId: string }>
    const exported = await phs(["export", runs[0].runId, "--fits", out, "--workdir", work, ...VALUES.flatMap((v) => ["--value", v])])
    expect(exported.code, exported.stderr).toBe(0)
    fs.writeFileSync(
      path.join(out, "fixture.fits"),
      writeCube({ nx: 2, ny: 3, nchan: 8, data: cubeData({ nx: 2, ny: 3, nchan: 8 }), bitpix: 16, bscale: 0.01, cards: { CTYPE1: "GLON-CAR", OBJECT: "it's a test", CDELT1: -0.1 } })
    )
  })

  it.skipIf(!available)("every exported map (every --value) and a fixture cube passes verify('exception')", () => {
    const out = path.join(dir, "maps")
    const files = fs.readdirSync(out).filter((f) => f.endsWith(".fits")).map((f) => path.join(out, f))
    expect(files.length).toBe(VALUES.length + 1)
    expect(astropyProblems(files)).toEqual([])
  })
})
