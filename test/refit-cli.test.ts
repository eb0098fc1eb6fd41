/**
 * `phs pipeline --refit spatial` (docs/fan-out-stages.md): its own run id, one row per
 * spectrum, a `refit` flag exactly on the spectra the refit changed, `phs resume` of a
 * killed refit run finishes the same (refit) pipeline and `phs replay` replays it, and a bad mode is a usage error.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { phs, tempDir } from "./support/cli.js"
import { cubeFits } from "./support/cubes.js"

const SAMPLE = path.resolve("examples/grs-5x5.fits")
const NX = 5
const NY = 5

interface Row {
  readonly x: number
  readonly y: number
  readonly n_components: number
  readonly component_amplitudes: ReadonlyArray<number>
  readonly component_means: ReadonlyArray<number>
  readonly component_stddevs: ReadonlyArray<number>
  readonly refit: string | null
  readonly component_velocities: ReadonlyArray<number> | null
}

// chunks of 10 spectra: the refit's neighbourhoods cross chunk boundaries
const args = (workdir: string, refit: ReadonlyArray<string>) => ["pipeline", SAMPLE, "--chunk-size", "10", "--json", "--workdir", workdir, ...refit]

const runIdOf = (stdout: string): string => (JSON.parse(stdout.trim().split("\n").at(-1)!) as { runId: string }).runId

const rowsOf = async (workdir: string, runId: string): Promise<Row[]> => {
  const sql = `SELECT x, y, n_components, component_amplitudes, component_means, component_stddevs, refit, component_velocities FROM decompositions WHERE run_id = '${runId}' ORDER BY y, x`
  const r = await phs(["query", "--format", "json", "--workdir", workdir, sql])
  expect(r.stderr).toBe("")
  return JSON.parse(r.stdout) as Row[]
}

const solution = (r: Row) => JSON.stringify([r.n_components, r.component_amplitudes, r.component_means, r.component_stddevs])

let work: string
let plainId: string
let plain: Row[]

beforeAll(async () => {
  work = path.join(tempDir(), "w")
  const r = await phs(args(work, []))
  expect(r.code).toBe(0)
  plainId = runIdOf(r.stdout)
  plain = await rowsOf(work, plainId)
}, 120_000)

describe("phs pipeline --refit spatial", () => {
  it("is its own run: one row per spectrum, refit set exactly where the solution changed", async () => {
    const r = await phs(args(work, ["--refit", "spatial"]))
    expect(r.stderr.split("\n").filter((l) => l.startsWith("phs:"))).toEqual([])
    expect(r.code).toBe(0)
    const id = runIdOf(r.stdout)
    expect(id).not.toBe(plainId)
    const rows = await rowsOf(work, id)
    expect(rows.map((row) => [row.x, row.y])).toEqual(Array.from({ length: NX * NY }, (_, p) => [p % NX, Math.floor(p / NX)]))
    expect(plain.every((row) => row.refit === null)).toBe(true)
    const changed = rows.map((row, i) => solution(row) !== solution(plain[i]))
    expect(rows.map((row) => row.refit !== null)).toEqual(changed)
    // the sample cube has spectra the refit changes: the comparison above is not vacuous
    expect(changed.some(Boolean)).toBe(true)
    // refitted rows carry km/s like the fit's: the same linear channel → velocity map (the
    // sample's spectral axis is linear in velocity), fitted on the plain rows
    const pairs = plain.flatMap((row) => row.component_means.map((m, i) => [m, row.component_velocities![i]] as const))
    const [[m0, v0], [m1, v1]] = [pairs[0], pairs.find(([m]) => Math.abs(m - pairs[0][0]) > 10)!]
    const slope = (v1 - v0) / (m1 - m0)
    const refitted = rows.filter((row) => row.refit !== null && row.n_components > 0)
    expect(refitted.length).toBeGreaterThan(0)
    for (const row of refitted) {
      expect(row.component_velocities).not.toBeNull()
      row.component_means.forEach((m, i) => expect(row.component_velocities![i]).toBeCloseTo(v0 + slope * (m - m0), 6))
    }
  }, 120_000)

  it("killed before its catalog, phs resume finishes the refit run (not a plain one)", async () => {
    const w = path.join(tempDir(), "w")
    const crash = { seed: 1, rules: [{ service: "BlobStore", op: "putStream", match: "decompositions/", kind: "crash-before", nth: 1 }] }
    const killed = await phs(args(w, ["--refit", "spatial"]), { env: { PHS_FAULTS: JSON.stringify(crash) } })
    expect(killed.signal).toBe("SIGKILL")
    const runs = JSON.parse((await phs(["runs", "--json", "--workdir", w])).stdout) as Array<{ runId: string }>
    expect(runs.length).toBe(1)
    const resumed = await phs(["resume", runs[0].runId, "--json", "--workdir", w])
    expect(resumed.code).toBe(0)
    expect(runIdOf(resumed.stdout)).toBe(runs[0].runId)
    const again = await phs(args(w, ["--refit", "spatial"]))
    expect(runIdOf(again.stdout)).toBe(runs[0].runId)
    const rows = await rowsOf(w, runs[0].runId)
    expect(rows.length).toBe(NX * NY)
    expect(rows.map((row) => row.refit !== null)).toEqual(rows.map((row, i) => solution(row) !== solution(plain[i])))
    expect(rows.some((row) => row.refit !== null)).toBe(true)
    // replay goes through the recorded (refit) pipeline's journal too
    const replayed = await phs(["replay", runs[0].runId, "--json", "--workdir", w])
    expect(replayed.code).toBe(0)
    expect(JSON.parse(replayed.stdout)).toMatchObject({ runId: runs[0].runId, identical: true })
  }, 120_000)

  it("an unknown mode: one line listing the valid ones, exit 2", async () => {
    const r = await phs(args(path.join(tempDir(), "w"), ["--refit", "bogus"]))
    expect(r.code).toBe(2)
    expect(r.stdout).toBe("")
    expect(r.stderr).toBe("phs: --refit bogus: expected one of none, spatial\n")
  })

  it("a 1×N cube runs and says that nothing could be refitted", async () => {
    const dir = tempDir()
    const cube = path.join(dir, "line.fits")
    fs.writeFileSync(cube, cubeFits({ nx: 7, ny: 1, seed: 3 }))
    const r = await phs(["pipeline", cube, "--chunk-size", "3", "--json", "--workdir", path.join(dir, "w"), "--refit", "spatial"])
    expect(r.code).toBe(0)
    expect(r.stderr).toContain("phs: refit: a 7×1 map has no 2-D neighbourhood: nothing could be refitted\n")
    const rows = await rowsOf(path.join(dir, "w"), runIdOf(r.stdout))
    expect(rows).toHaveLength(7)
    expect(rows.every((row) => row.refit === null)).toBe(true)
  }, 120_000)
})
