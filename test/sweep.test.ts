/**
 * `phs sweep` shares its fits between points (docs/tuning.md, "What a sweep costs") and its
 * runs stay the runs `phs pipeline` makes alone: the same ids and result files byte for
 * byte, a replay of each finds it identical, and a sweep killed midway finishes when run
 * again with the same results.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { phs, tempDir } from "./support/cli.js"
import { twoCubes } from "./support/cubes.js"

let dir: string
let cube: string
let alone: string
const BETAS = [2, 2.5, 3]
const GRID = ["--param", "beta=2:3:0.5", "--chunk-size", "10"]
/** The published result files of a workdir, by name, with their bytes. */
const results = (workdir: string): Map<string, Buffer> => {
  const root = path.join(workdir, "blobs", "decompositions")
  const out = new Map<string, Buffer>()
  for (const f of fs.readdirSync(root, { recursive: true, encoding: "utf8" })) {
    if (f.endsWith(".parquet")) out.set(f, fs.readFileSync(path.join(root, f)))
  }
  return out
}

beforeAll(async () => {
  dir = tempDir("phs-sweep-")
  cube = path.join(dir, "s.fits")
  // 7 categories × 4 spectra: three chunks of 10
  execFileSync(process.execPath, [path.resolve("bench/synth.mjs"), "--seed", "9", "--n", "4", "--out", cube, "--truth", path.join(dir, "t.json")], { stdio: "ignore" })
  alone = path.join(dir, "alone")
  for (const beta of BETAS) expect((await phs(["pipeline", cube, "--param", `beta=${beta}`, "--chunk-size", "10", "--workdir", alone, "--json"])).code).toBe(0)
}, 120_000)

describe("phs sweep shares fits", () => {
  it("fits each chunk once for every point; its runs are phs pipeline's byte for byte, and replay identical", async () => {
    const w = path.join(dir, "shared")
    const r = await phs(["sweep", cube, ...GRID, "--workdir", w, "--json", "--plot", path.join(dir, "a.svg")])
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.fits).toEqual({ chunksFittedForAll: 3, chunksAnswered: 6, chunksFittedAlone: 0 })
    const mine = results(w)
    expect([...mine.keys()].sort()).toEqual([...results(alone).keys()].sort())
    for (const [name, bytes] of results(alone)) expect(mine.get(name)?.equals(bytes), name).toBe(true)
    for (const p of out.points) {
      const replay = await phs(["replay", p.runId, "--workdir", w, "--json"])
      expect(JSON.parse(replay.stdout)).toMatchObject({ runId: p.runId, identical: true })
    }
    // every run returned: nothing to fit
    const again = JSON.parse((await phs(["sweep", cube, ...GRID, "--workdir", w, "--json", "--plot", path.join(dir, "a.svg")])).stdout)
    expect(again.fits).toEqual({ chunksFittedForAll: 0, chunksAnswered: 0, chunksFittedAlone: 0 })
  }, 180_000)

  it("refuses a bad PHS_SWEEP_CACHE_MB in one line, exit 2, nothing written", async () => {
    const d = tempDir()
    const r = await phs(["sweep", cube, ...GRID, "--workdir", path.join(d, "w"), "--plot", path.join(d, "p.svg")], { env: { PHS_SWEEP_CACHE_MB: "lots" } })
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split("\n")).toEqual([expect.stringMatching(/PHS_SWEEP_CACHE_MB must be a positive number, got "lots"/)])
    expect(fs.readdirSync(d)).toEqual([])
  })

  it("killed midway through the second point, then run again: it finishes with the same results", async () => {
    const w = path.join(dir, "killed")
    // the fifth chunk result written is the second point's second chunk
    const rule = { service: "BlobStore", op: "put", match: ".parquet", kind: "crash-before", nth: 5 }
    const killed = await phs(["sweep", cube, ...GRID, "--workdir", w, "--json", "--plot", path.join(dir, "b.svg")], {
      env: { PHS_FAULTS: JSON.stringify({ seed: 1, rules: [rule] }) }
    })
    expect(killed.signal).toBe("SIGKILL")
    const r = await phs(["sweep", cube, ...GRID, "--workdir", w, "--json", "--plot", path.join(dir, "b.svg")])
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.points.map((p: { status: string }) => p.status)).toEqual(["COMPLETED", "COMPLETED", "COMPLETED"])
    // point 1 was done; point 2's unfinished chunks were fitted for points 2 and 3
    expect(out.fits.chunksFittedForAll).toBeGreaterThan(0)
    const mine = results(w)
    for (const [name, bytes] of results(alone)) expect(mine.get(name)?.equals(bytes), name).toBe(true)
  }, 180_000)
})

describe("phs sweep --hdu N", () => {
  it("sweeps the cube in that HDU: each point's run records it and is the run phs pipeline --hdu N makes", async () => {
    const d = tempDir("phs-sweep-hdu-")
    const two = path.join(d, "two.fits")
    fs.writeFileSync(two, twoCubes(64).file)
    const w = path.join(d, "w")
    const grid = ["--survey", "two", "--param", "beta=2.5,3", "--chunk-size", "2", "--workdir", w, "--plot", path.join(d, "p.svg")]
    const r = await phs(["sweep", two, "--hdu", "2", ...grid])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/^phs: note: the cube is in HDU 2 \(image extension "SECOND"\)$/m)
    const out = JSON.parse((await phs(["sweep", two, "--hdu", "2", ...grid, "--json"])).stdout)
    expect(out.points.map((p: { status: string; spectra: number }) => [p.status, p.spectra])).toEqual([["COMPLETED", 6], ["COMPLETED", 6]])
    const runs = JSON.parse((await phs(["runs", "--json", "--workdir", w])).stdout) as Array<{ runId: string; hdu?: number; nx: number }>
    expect(runs.map((x) => [x.hdu, x.nx])).toEqual([[2, 3], [2, 3]])
    const single = await phs(["pipeline", two, "--survey", "two", "--hdu", "2", "--param", "beta=3", "--chunk-size", "2", "--workdir", w, "--json"])
    expect(JSON.parse(single.stdout)).toMatchObject({ runId: out.points[1].runId, already: true, hdu: 2 })
    // without --hdu: the first 3-D image, other runs
    const first = JSON.parse((await phs(["sweep", two, ...grid, "--json"])).stdout)
    expect(first.points.map((p: { spectra: number }) => p.spectra)).toEqual([4, 4])
    expect(first.points[1].runId).not.toBe(out.points[1].runId)
  }, 120_000)

  it("a bad N is pipeline's one line, exit 2, and nothing is written", async () => {
    const d = tempDir("phs-sweep-hdu-")
    const two = path.join(d, "two.fits")
    fs.writeFileSync(two, twoCubes(64).file)
    for (const [n, error] of [
      ["7", /^phs: --hdu 7: two\.fits: no HDU 7: the file has HDUs 0 to 2$/],
      ["0", /^phs: --hdu 0: two\.fits: NAXIS = 0: a cube needs 3 axes/]
    ] as const) {
      const r = await phs(["sweep", two, "--hdu", n, "--param", "beta=3", "--workdir", path.join(d, "w"), "--plot", path.join(d, "p.svg")])
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr.trim().split("\n")).toEqual([expect.stringMatching(error)])
    }
    expect(fs.readdirSync(d)).toEqual(["two.fits"])
  })
})
