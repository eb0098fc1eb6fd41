/**
 * A survey's status: `phs status --survey S` gives each cube's newest run (status, spectra,
 * the cube's world coordinates in one line, a malformed WCS said in that line) and the
 * survey's total; `phs runs --survey S` ends with the survey's line. Cubes are named by the
 * file the user gave (a run recorded before the name was: by its key). Bad input: one line,
 * exit 2.
 */
import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { writeCube } from "../packages/core/src/FitsWriter.js"
import { cubeData } from "./support/cubes.js"
import { phs, tempDir } from "./support/cli.js"

const GOOD = {
  CTYPE1: "GLON-CAR", CRVAL1: 30, CRPIX1: 1, CDELT1: -0.01,
  CTYPE2: "GLAT-CAR", CRVAL2: 0, CRPIX2: 1, CDELT2: 0.01,
  CTYPE3: "VRAD", CRVAL3: 0, CRPIX3: 1, CDELT3: 200, CUNIT3: "m/s", SPECSYS: "LSRK"
}
const CUBES: ReadonlyArray<{ readonly file: string; readonly cards: Record<string, string | number> }> = [
  { file: "a-good.fits", cards: GOOD },
  { file: "b-singular.fits", cards: { ...GOOD, PC1_1: 1, PC1_2: 2, PC2_1: 0.5, PC2_2: 1 } },
  { file: "c-nocdelt.fits", cards: Object.fromEntries(Object.entries(GOOD).filter(([k]) => k !== "CDELT3")) }
]

interface SurveyStatus {
  survey: string
  runs: number
  nSpectra: number
  spectraDone: number
  cubes: Array<{ cubeKey: string; cubeName: string; olderRuns: number; run: { runId: string; status: string; nSpectra: number }; wcs: { celestial: unknown; spectral: unknown; problems: string[] } }>
}

let workdir = ""
let runIds: string[] = []

beforeAll(async () => {
  const dir = tempDir()
  workdir = path.join(dir, "w")
  for (const [k, c] of CUBES.entries())
    fs.writeFileSync(path.join(dir, c.file), writeCube({ nx: 3, ny: 2, nchan: 64, data: cubeData({ nx: 3, ny: 2, nchan: 64, seed: k + 1 }), cards: c.cards }))
  const set = await phs(["pipeline", dir, "--survey", "mix", "--workdir", workdir, "--json"])
  expect(set.code, set.stderr).toBe(0)
  runIds = (JSON.parse(set.stdout) as { cubes: Array<{ runId: string }> }).cubes.map((c) => c.runId)
  // A second run of the first cube (other parameters): the newest is the one shown.
  const again = await phs(["pipeline", path.join(dir, CUBES[0].file), "--survey", "mix", "--param", "beta=4", "--workdir", workdir, "--json"])
  expect(again.code, again.stderr).toBe(0)
  runIds[0] = (JSON.parse(again.stdout) as { runId: string }).runId
}, 120_000)

describe("phs status --survey", () => {
  it("a line per cube: its newest run, spectra and world coordinates; a malformed WCS said in that line", async () => {
    const r = await phs(["status", "--survey", "mix", "--workdir", workdir])
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout.trimEnd().split("\n")
    expect(lines[0]).toBe("survey mix: 3 cube(s), 4 run(s); newest run of each cube: 3 completed; 18/18 spectra")
    expect(lines[1]).toMatch(/^cube +run +status +spectra +done +older runs +world$/)
    expect(lines.length, r.stdout).toBe(5)
    const rows = lines.slice(2)
    for (const [k, row] of rows.entries()) expect(row).toMatch(new RegExp(`^${CUBES[k].file.replace(".", "\\.")} +${runIds[k]} +COMPLETED +6 +6 +${k === 0 ? 1 : 0} +`))
    expect(rows[0]).toMatch(/ galactic CAR; velocity VRAD \(radio, LSRK\)$/)
    expect(rows[1]).toMatch(/ lon\/lat and velocities are null: .*PC matrix is singular/)
    expect(rows[2]).toMatch(/ galactic CAR; velocities are null: .*CDELT3 is missing/)
  })

  it("--json: one document, the same facts", async () => {
    const r = await phs(["status", "--survey", "mix", "--workdir", workdir, "--json"])
    expect(r.code, r.stderr).toBe(0)
    const s = JSON.parse(r.stdout) as SurveyStatus
    expect(s).toMatchObject({ survey: "mix", runs: 4, nSpectra: 18, spectraDone: 18 })
    expect(s.cubes.map((c) => [c.run.runId, c.run.status, c.olderRuns])).toEqual(runIds.map((id, k) => [id, "COMPLETED", k === 0 ? 1 : 0]))
    expect(s.cubes.map((c) => c.cubeName)).toEqual(CUBES.map((c) => c.file))
    for (const c of s.cubes) expect(c.cubeKey).toMatch(/^cubes\/mix-[0-9a-f]{16}\.fits$/)
    expect(s.cubes[0].wcs).toMatchObject({ celestial: { frame: "galactic", projection: "CAR" }, problems: [] })
    expect(s.cubes[1].wcs).toMatchObject({ celestial: null, spectral: null, problems: [expect.stringMatching(/PC matrix is singular/)] })
    expect(s.cubes[2].wcs).toMatchObject({ spectral: null, problems: [expect.stringMatching(/CDELT3 is missing/)] })
  })

  it("phs runs --survey ends with the survey's line", async () => {
    const r = await phs(["runs", "--survey", "mix", "--workdir", workdir])
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout.trimEnd().split("\n")
    expect(lines.length).toBe(6)
    expect(lines[0]).toMatch(/^run +survey +cube +created \(UTC\)/)
    expect(lines[1]).toMatch(new RegExp(`^${runIds[0]} +mix +a-good\\.fits +`))
    expect(lines[5]).toBe(`survey mix: 3 cube(s); the newest run of 3 of them completed; 18/18 spectra; each cube's: phs status --survey mix --workdir ${workdir}`)
  })

  it("phs status RUN names the cube by its file and key; a run recorded before the name shows the key", async () => {
    const r = await phs(["status", runIds[1], "--workdir", workdir])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/; cube b-singular\.fits \(cubes\/mix-[0-9a-f]{16}\.fits\) \(3 × 2 × 64\)/)
    const db = new Database(path.join(workdir, "phs.sqlite"))
    try {
      db.prepare("UPDATE runs SET cube_name = NULL WHERE run_id = ?").run(runIds[2])
    } finally {
      db.close()
    }
    const s = await phs(["status", "--survey", "mix", "--workdir", workdir])
    expect(s.code, s.stderr).toBe(0)
    expect(s.stdout.trimEnd().split("\n")[4]).toMatch(new RegExp(`^cubes/mix-[0-9a-f]{16}\\.fits +${runIds[2]} +COMPLETED`))
  })

  it("bad input: one line, exit 2", async () => {
    for (const [args, message] of [
      [["status"], "phs: phs status takes one of RUN or --survey NAME"],
      [["status", runIds[1], "--survey", "mix"], "phs: phs status takes one of RUN or --survey NAME"],
      [["status", "--survey", "nope"], `phs: no runs of survey nope in this workdir (${workdir}; see phs runs --workdir ${workdir})`]
    ] as const) {
      const r = await phs([...args, "--workdir", workdir])
      expect([r.code, r.stderr, r.stdout], args.join(" ")).toEqual([2, `${message}\n`, ""])
    }
    const none = await phs(["status", "--survey", "mix", "--workdir", path.join(tempDir(), "none")])
    expect(none.code).toBe(2)
    expect(none.stderr.trim().split("\n")).toHaveLength(1)
  })
})
