/**
 * Mosaics, measured: the sample field (examples/grs-5x5.fits) cut into four tiles with CRPIX
 * adjusted (test/support/tiles.ts), each run as a cube of survey `grs`, gives
 * `phs export --survey grs` maps identical to `phs export` of the uncut field, with the
 * field's WCS, and the same rows but `cube`, `x`, `y` (and `run_id`). Tiles of different
 * projections or frames: one line naming the runs, exit 2.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { decodeRows } from "../packages/core/src/ResultParquet.js"
import type { DecompositionRow } from "../packages/core/src/ResultSchema.js"
import { QUANTITY_NAMES } from "../packages/core/src/mosaic/Quantities.js"
import { astropyAvailable, astropyProblems } from "./support/astropy.js"
import { phs, tempDir } from "./support/cli.js"
import { cutTile, quadrants } from "./support/tiles.js"

const SAMPLE = path.resolve("examples/grs-5x5.fits")
const RECTS = quadrants(5, 5, 3, 2)

interface Run { runId: string; survey: string; nx: number; ny: number; cubeKey: string }

const readImage = (bytes: Uint8Array) => {
  const text = new TextDecoder("latin1").decode(bytes)
  const cards = new Map<string, string>()
  let i = 0
  for (; ; i++) {
    const card = text.slice(i * 80, i * 80 + 80)
    if (card.slice(0, 8).trimEnd() === "END") break
    if (card.slice(8, 10) !== "= ") continue
    const str = /^\s*'((?:[^']|'')*)'/.exec(card.slice(10))
    cards.set(card.slice(0, 8).trimEnd(), str !== null ? str[1].replace(/''/g, "'").trimEnd() : card.slice(10).split("/")[0].trim())
  }
  const nx = Number(cards.get("NAXIS1"))
  const ny = Number(cards.get("NAXIS2"))
  const view = new DataView(bytes.buffer, bytes.byteOffset + Math.ceil(((i + 1) * 80) / 2880) * 2880, nx * ny * 4)
  return { cards, nx, ny, data: Array.from({ length: nx * ny }, (_, k) => view.getFloat32(k * 4, false)) }
}

let dir = ""
let setOutput = { code: 0 as number | null, stdout: "", stderr: "" }
/** Run id of each tile file (tile-0 … tile-3, tile-tan, tile-icrs). */
const runIdOf = new Map<string, string>()
let work = ""
const runsOf = async (survey: string): Promise<Run[]> => JSON.parse((await phs(["runs", "--json", "--survey", survey, "--workdir", work])).stdout) as Run[]

const rowsOf = async (run: Run): Promise<DecompositionRow[]> => {
  const part = path.join(work, "blobs", "decompositions", `survey=${run.survey}`)
  const rows: DecompositionRow[] = []
  for (const f of fs.readdirSync(part).filter((f) => f.startsWith(run.runId))) {
    rows.push(...(await Effect.runPromise(decodeRows(new Uint8Array(fs.readFileSync(path.join(part, f)))))))
  }
  return rows
}

beforeAll(async () => {
  dir = tempDir("phs-mosaic-")
  work = path.join(dir, "w")
  const field = new Uint8Array(fs.readFileSync(SAMPLE))
  const files = RECTS.map((r, k) => {
    const file = path.join(dir, `tile-${k}.fits`)
    fs.writeFileSync(file, cutTile(field, r))
    return file
  })
  const tan = path.join(dir, "tile-tan.fits")
  fs.writeFileSync(tan, cutTile(field, RECTS[0], { CTYPE1: "GLON-TAN", CTYPE2: "GLAT-TAN" }))
  const icrs = path.join(dir, "tile-icrs.fits")
  fs.writeFileSync(icrs, cutTile(field, RECTS[0], { CTYPE1: "RA---CAR", CTYPE2: "DEC--CAR", RADESYS: "ICRS" }))
  // The four tiles as one set (quoted glob, expanded by phs); the rest one cube at a time.
  const set = await phs(["pipeline", path.join(dir, "tile-?.fits"), "--survey", "grs", "--workdir", work])
  expect(set.code, set.stderr).toBe(0)
  setOutput = set
  for (const [k, f] of files.entries()) {
    const again = await phs(["pipeline", f, "--survey", "grs", "--workdir", work, "--json"])
    expect(again.code, again.stderr).toBe(0)
    expect((JSON.parse(again.stdout) as { already?: boolean }).already).toBe(true)
    runIdOf.set(`tile-${k}`, (JSON.parse(again.stdout) as Run).runId)
  }
  for (const args of [[SAMPLE, "--survey", "field"], [tan, "--survey", "bad"], [icrs, "--survey", "bad"]]) {
    const r = await phs(["pipeline", ...args, "--workdir", work, "--json"])
    expect(r.code, r.stderr).toBe(0)
    runIdOf.set(path.basename(args[0], ".fits"), (JSON.parse(r.stdout) as Run).runId)
  }
}, 600_000)

describe("a survey of four tiles cut from one field", () => {
  it("phs pipeline runs a set of cubes as one survey: a run per cube, progress per cube and for the set", async () => {
    const runs = await runsOf("grs")
    expect(runs.map((r) => r.runId).sort()).toEqual([...runIdOf.entries()].filter(([k]) => /^tile-\d$/.test(k)).map(([, v]) => v).sort())
    expect(runs.every((r) => r.status === "COMPLETED")).toBe(true)
    const notes = setOutput.stderr.split("\n").filter((l) => /^phs: cube \d\/4 /.test(l))
    expect(notes.length, setOutput.stderr).toBe(4)
    expect(notes[3]).toMatch(/^phs: cube 4\/4 tile-3\.fits: run grs-\S+ completed: 6 of 6 spectra/)
    // one display for the set: its count runs over the four cubes to the survey's total
    expect(setOutput.stderr).toMatch(/ 25\/25 spectra {2}cube 4\/4 {2}100\.0%/)
    expect(setOutput.stdout).toContain("survey grs: 4 cubes, 25 spectra completed")
    const unnamed = await phs(["pipeline", path.join(dir, "tile-0.fits"), path.join(dir, "tile-1.fits"), "--workdir", work])
    expect([unnamed.code, unnamed.stderr]).toEqual([2, "phs: 2 cubes make one survey: name it with --survey NAME\n"])
    const again = await phs(["pipeline", path.join(dir, "tile-?.fits"), "--survey", "grs", "--workdir", work])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stderr.match(/: run grs-\S+ already completed/g)?.length, again.stderr).toBe(4)
    expect(again.stdout.match(/ COMPLETED +\d+ +already done$/gm)?.length, again.stdout).toBe(4)
  })

  it("mosaics every quantity identically to the export of the uncut field, with the field's WCS", async () => {
    const [fieldRun] = await runsOf("field")
    const out = path.join(dir, "maps")
    const values = QUANTITY_NAMES.flatMap((q) => ["--value", q])
    const a = await phs(["export", "--survey", "grs", "--fits", out, "--workdir", work])
    expect(a.code, a.stderr).toBe(0)
    expect(a.stdout.trim().split("\n")).toEqual(QUANTITY_NAMES.map((q) => path.join(out, `grs-${q}.fits`)))
    const b = await phs(["export", fieldRun.runId, "--fits", out, "--workdir", work, ...values])
    expect(b.code, b.stderr).toBe(0)
    for (const q of QUANTITY_NAMES) {
      const mosaic = readImage(new Uint8Array(fs.readFileSync(path.join(out, `grs-${q}.fits`))))
      const whole = readImage(new Uint8Array(fs.readFileSync(path.join(out, `${fieldRun.runId}-${q}.fits`))))
      expect([mosaic.nx, mosaic.ny], q).toEqual([5, 5])
      expect(mosaic.data, q).toEqual(whole.data)
      expect(mosaic.data.some((v) => !Number.isNaN(v)), q).toBe(true)
      for (const k of ["CTYPE1", "CTYPE2", "CRVAL1", "CRVAL2", "CDELT1", "CDELT2", "BUNIT"]) expect(mosaic.cards.get(k), `${q} ${k}`).toBe(whole.cards.get(k))
      for (const k of ["CRPIX1", "CRPIX2"]) expect(Math.abs(Number(mosaic.cards.get(k)) - Number(whole.cards.get(k)))).toBeLessThan(1e-9)
    }
    expect(readImage(new Uint8Array(fs.readFileSync(path.join(out, "grs-integrated_intensity.fits")))).cards.get("BUNIT")).toBe("K km/s")
    if (astropyAvailable()) expect(astropyProblems(QUANTITY_NAMES.map((q) => path.join(out, `grs-${q}.fits`)))).toEqual([])
  })

  it("phs plot map --survey draws the mosaic: labelled in km/s, a discrete scale for n_components", async () => {
    const svg = path.join(dir, "v.svg")
    const v = await phs(["plot", "map", "--survey", "grs", "--value", "mean_velocity", "--out", svg, "--workdir", work])
    expect(v.code, v.stderr).toBe(0)
    const text = fs.readFileSync(svg, "utf8")
    expect(text).toContain("survey grs: mean_velocity")
    expect(text).toContain("mean_velocity (km/s)")
    expect(text.match(/role-mark cell/g)?.length).toBe(1)
    const n = path.join(dir, "n.svg")
    expect((await phs(["plot", "map", "--survey", "grs", "--out", n, "--workdir", work])).code).toBe(0)
    // A discrete legend: one symbol per component count, no gradient.
    const ntext = fs.readFileSync(n, "utf8")
    expect(ntext).not.toContain("linearGradient")
    expect(ntext).toContain("role-legend-symbol")
  })

  it("gives the same rows as the uncut field, but cube, x, y and run_id", async () => {
    const [fieldRun] = await runsOf("field")
    const tiles = await runsOf("grs")
    expect(tiles.length).toBe(4)
    const strip = (r: DecompositionRow) => {
      const { cube: _c, x: _x, y: _y, run_id: _r, lon, lat, ...rest } = r
      return { ...rest, lon: lon === null ? null : Number(lon.toFixed(9)), lat: lat === null ? null : Number(lat.toFixed(9)) }
    }
    const whole = new Map((await rowsOf(fieldRun)).map((r) => [`${r.x},${r.y}`, strip(r)]))
    let seen = 0
    for (const t of tiles) {
      const k = RECTS.findIndex((_, i) => runIdOf.get(`tile-${i}`) === t.runId)
      for (const r of await rowsOf(t)) {
        expect(r.cube).toBe(t.cubeKey)
        expect(strip(r)).toEqual(whole.get(`${r.x + RECTS[k].x0},${r.y + RECTS[k].y0}`))
        seen++
      }
    }
    expect(seen).toBe(25)
  })

  it("refuses tiles of other projections or frames in one line naming the runs and cubes, exit 2", async () => {
    const [grs0] = (await runsOf("grs")).filter((r) => r.runId === runIdOf.get("tile-0"))
    const bad = await runsOf("bad")
    const r = await phs(["export", "--runs", [grs0, ...bad].map((b) => b.runId).join(","), "--fits", path.join(dir, "bad"), "--workdir", work])
    expect(r.code).toBe(2)
    const lines = r.stderr.trim().split("\n")
    expect(lines.length, r.stderr).toBe(1)
    expect(lines[0]).toMatch(/cannot mosaic: .* in projection or frame/)
    // each tile named by its run and its cube
    for (const b of [grs0, ...bad]) expect(lines[0]).toContain(`run ${b.runId} (${b.cubeKey})`)
    const s = await phs(["export", "--survey", "bad", "--fits", path.join(dir, "bad"), "--workdir", work])
    expect([s.code, s.stderr.trim().split("\n").length]).toEqual([2, 1])
  })
})
