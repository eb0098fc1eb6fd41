/**
 * `phs sweep` and `phs tune` as a user runs them: bad input refused in one line with exit 2
 * and nothing written; a repeated sweep returns the same runs (the ids `phs pipeline`
 * gives); `tune --json` has the documented shape and its figures are bench/score.mjs's on
 * the same runs' rows.
 */
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { decodeRows } from "../packages/core/src/ResultParquet.js"
import { phs, tempDir } from "./support/cli.js"
import { twoCubes } from "./support/cubes.js"

const BENCH = path.resolve("bench")
const SAMPLE = path.resolve("examples/grs-5x5.fits")

let dir: string
let cube: string
let truth: string

beforeAll(() => {
  dir = tempDir("phs-tune-")
  cube = path.join(dir, "s.fits")
  truth = path.join(dir, "s.truth.json")
  // 7 categories × 4 spectra, 424 channels: the standard benchmark, small.
  execFileSync(process.execPath, [path.join(BENCH, "synth.mjs"), "--seed", "5", "--n", "4", "--out", cube, "--truth", truth], { stdio: "ignore" })
})

/** Files in a directory, recursively, relative to it. */
const listing = (root: string): string[] =>
  fs.existsSync(root) ? fs.readdirSync(root, { recursive: true, encoding: "utf8" }).sort() : []

describe("phs sweep and phs tune refuse bad input: one line, exit 2, nothing written", () => {
  const labels = (v: unknown) => (name: string) => {
    const f = path.join(name, "labels.json")
    fs.writeFileSync(f, typeof v === "string" ? v : JSON.stringify(v))
    return ["--truth", f]
  }
  const cases: ReadonlyArray<{ name: string; args: (dir: string) => string[]; error: RegExp }> = [
    { name: "sweep: an inverted range", args: () => ["sweep", cube, "--param", "beta=5:2:0.5"], error: /beta=5:2:0\.5: the range 5:2 is inverted/ },
    { name: "sweep: an empty range", args: () => ["sweep", cube, "--param", "beta=3:3:0.5"], error: /the range 3:3 is empty/ },
    { name: "sweep: an empty value", args: () => ["sweep", cube, "--param", "beta="], error: /empty/ },
    { name: "sweep: a zero step", args: () => ["sweep", cube, "--param", "beta=2:5:0"], error: /step must be positive/ },
    { name: "sweep: a negative step", args: () => ["sweep", cube, "--param", "beta=2:5:-0.5"], error: /step must be positive/ },
    { name: "sweep: an unknown parameter", args: () => ["sweep", cube, "--param", "betta=2:5:1"], error: /unknown parameter "betta".*beta/ },
    { name: "sweep: an out-of-range value", args: () => ["sweep", cube, "--param", "beta=-1,2"], error: /beta/ },
    { name: "tune: labels for pixels outside the cube", args: (d) => ["tune", cube, ...labels({ spectra: [{ x: 4, y: 0, components: [] }] })(d)], error: /pixel \(4, 0\) is outside the cube: x is 0\.\.3, y is 0\.\.6/ },
    { name: "tune: labels with a mean outside the channels", args: (d) => ["tune", cube, ...labels({ spectra: [{ x: 0, y: 0, components: [{ amplitude: 1, mean: 5000, stddev: 3 }] }] })(d)], error: /mean 5000, outside the cube's channels/ },
    { name: "tune: a label file that is not JSON", args: (d) => ["tune", cube, ...labels("x,y,amplitude\n1,2,3\n")(d)], error: /labels\.json: not JSON/ },
    { name: "tune: a label file in another format", args: (d) => ["tune", cube, ...labels({ spectra: [{ x: 0, y: 0, gaussians: [] }] })(d)], error: /labels\.json: .*(components|gaussians)/ },
    { name: "tune: neither --truth nor --synthetic", args: () => ["tune", cube], error: /either --truth LABELS\.json or --synthetic/ },
    { name: "tune: both --truth and --synthetic", args: () => ["tune", cube, "--synthetic", "--truth", truth], error: /either --truth/ },
    { name: "tune --synthetic: an inverted range", args: () => ["tune", cube, "--synthetic", "--param", "beta=4:2:1"], error: /inverted/ },
    { name: "tune: an --hdu past the file's end", args: () => ["tune", cube, "--synthetic", "--hdu", "1"], error: /^phs: --hdu 1: s\.fits: no HDU 1: the file has only the primary HDU \(0\)$/ },
    { name: "sweep: an --hdu past the file's end", args: () => ["sweep", cube, "--param", "beta=3", "--hdu", "1"], error: /^phs: --hdu 1: s\.fits: no HDU 1: the file has only the primary HDU \(0\)$/ }
  ]
  for (const c of cases) {
    it(c.name, async () => {
      const d = tempDir()
      const args = c.args(d)
      const before = listing(d)
      const r = await phs([...args, "--workdir", path.join(d, "w")], { cwd: d })
      expect(r.code).toBe(2)
      const lines = r.stderr.trim().split("\n")
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(c.error)
      expect(r.stdout).toBe("")
      expect(listing(d)).toEqual(before)
    })
  }
})

/** The run's rows, read from its Parquet parts in the workdir. */
const rowsOf = async (workdir: string, survey: string, runId: string) => {
  const part = path.join(workdir, "blobs", "decompositions", `survey=${survey}`)
  const files = fs.readdirSync(part).filter((f) => f.startsWith(`${runId}-`))
  expect(files.length).toBeGreaterThan(0)
  const parts = await Promise.all(files.map((f) => Effect.runPromise(decodeRows(new Uint8Array(fs.readFileSync(path.join(part, f)))))))
  return parts.flat()
}

describe("phs sweep", () => {
  it("one run per point; a repeated sweep returns the same runs, which are phs pipeline's", async () => {
    const d = tempDir()
    const w = path.join(d, "w")
    const args = ["sweep", SAMPLE, "--param", "beta=2.5:3.5:0.5", "--param", "snr_min=1.5,3", "--workdir", w, "--json", "--plot", path.join(d, "sweep.png")]
    const first = await phs(args)
    expect(first.code).toBe(0)
    const a = JSON.parse(first.stdout)
    expect(a.points.map((p: { params: object }) => p.params)).toEqual([
      { beta: 2.5, snr_min: 1.5 },
      { beta: 2.5, snr_min: 3 },
      { beta: 3, snr_min: 1.5 },
      { beta: 3, snr_min: 3 },
      { beta: 3.5, snr_min: 1.5 },
      { beta: 3.5, snr_min: 3 }
    ])
    for (const p of a.points) {
      expect(p.status).toBe("COMPLETED")
      expect(p.spectra).toBe(25)
      expect(p.mean_components).toBeGreaterThan(0)
      expect(p.noise_consistent_fraction).toBeGreaterThanOrEqual(0)
      expect(p.noise_consistent_fraction).toBeLessThanOrEqual(1)
      expect(p.mean_chi2_reduced).toBeGreaterThan(0)
      // The count figures are the rows' (what the beta-comparison query reads).
      const rows = await rowsOf(w, "grs-5x5", p.runId)
      expect(p.mean_components).toBeCloseTo(rows.reduce((s, r) => s + r.n_components, 0) / rows.length, 12)
      expect(p.mean_chi2_reduced).toBeCloseTo(rows.reduce((s, r) => s + (r.chi2_reduced ?? 0), 0) / rows.length, 12)
    }
    // A higher snr_min keeps fewer components and fits worse.
    expect(a.points[1].mean_components).toBeLessThan(a.points[0].mean_components)
    expect(a.points[1].mean_chi2_reduced).toBeGreaterThan(a.points[0].mean_chi2_reduced)
    expect(new Set(a.points.map((p: { runId: string }) => p.runId)).size).toBe(6)
    expect(fs.readFileSync(path.join(d, "sweep.png")).subarray(1, 4).toString()).toBe("PNG")

    const again = await phs(args)
    expect(again.code).toBe(0)
    const b = JSON.parse(again.stdout)
    expect(b.points).toEqual(a.points)
    const runs = JSON.parse((await phs(["runs", "--json", "--workdir", w])).stdout) as Array<{ runId: string }>
    expect(runs.map((r) => r.runId).sort()).toEqual(a.points.map((p: { runId: string }) => p.runId).sort())

    const single = await phs(["pipeline", SAMPLE, "--param", "beta=3", "--workdir", w, "--json"])
    expect(JSON.parse(single.stdout).runId).toBe(a.points[2].runId)
  })
})

describe("phs tune", () => {
  it("--truth --json: the documented shape, the figures bench/score.mjs gives for the same rows", async () => {
    const d = tempDir()
    const w = path.join(d, "w")
    const r = await phs(["tune", cube, "--truth", truth, "--param", "beta=2,4", "--workdir", w, "--json"], { cwd: d })
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.points).toHaveLength(2)
    expect(fs.existsSync(path.resolve(d, out.plot))).toBe(true)
    for (const p of out.points) {
      expect(Object.keys(p).sort()).toEqual(["categories", "f1", "params", "precision", "recall", "runId"])
      expect(Object.keys(p.categories)).toEqual(["SB", "SF", "SN", "SBd", "MS", "MB", "C"])
      const pred = path.join(d, `${p.runId}.json`)
      const rows = await rowsOf(w, "s", p.runId)
      fs.writeFileSync(pred, JSON.stringify({
        spectra: rows.map((row) => ({ x: row.x, y: row.y, components: row.component_amplitudes.map((amplitude, k) => ({ amplitude, mean: row.component_means[k], stddev: row.component_stddevs[k] })) }))
      }))
      const ref = JSON.parse(execFileSync(process.execPath, [path.join(BENCH, "score.mjs"), truth, pred, "--quiet"], { encoding: "utf8" }).trim().split("\n").at(-1)!)
      expect(p.f1).toBeCloseTo(ref.overall.f1, 12)
      expect(p.precision).toBeCloseTo(ref.overall.precision, 12)
      expect(p.recall).toBeCloseTo(ref.overall.recall, 12)
      for (const c of Object.keys(p.categories)) expect(p.categories[c].f1).toBeCloseTo(ref.categories[c].f1, 12)
    }
    const top = Math.max(...out.points.map((p: { f1: number }) => p.f1))
    expect(out.best.f1).toBe(top)
    expect(out.points).toContainEqual(out.best)
  })

  it("--synthetic --json: no runs written; scores and a recommendation for the cube's noise", async () => {
    const d = tempDir()
    const w = path.join(d, "w")
    const r = await phs(["tune", SAMPLE, "--synthetic", "--per-category", "6", "--param", "beta=2,3.5,5", "--workdir", w, "--json", "--plot", path.join(d, "t.svg")])
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.points.map((p: { params: object }) => p.params)).toEqual([{ beta: 2 }, { beta: 3.5 }, { beta: 5 }])
    for (const p of out.points) {
      expect(Object.keys(p).sort()).toEqual(["categories", "f1", "params", "precision", "recall"])
      expect(Object.keys(p.categories)).toHaveLength(7)
      for (const k of ["f1", "precision", "recall"]) {
        expect(p[k]).toBeGreaterThanOrEqual(0)
        expect(p[k]).toBeLessThanOrEqual(1)
      }
    }
    expect(out.synthetic.channels).toBe(424)
    expect(out.synthetic.spectra).toBe(42)
    // GRS 13CO: the noise is about 0.1 K.
    expect(out.synthetic.noise).toBeGreaterThan(0.03)
    expect(out.synthetic.noise).toBeLessThan(0.3)
    expect(out.recommendation).toMatch(new RegExp(`recommended for this noise regime: beta=${out.best.params.beta} `))
    expect(fs.existsSync(w)).toBe(false)
    expect(fs.readFileSync(path.join(d, "t.svg"), "utf8")).toMatch(/panel_0/)
  })
})

describe("phs tune --hdu N", () => {
  const NCHAN = 64
  let d: string
  let two: string
  let alone: string
  beforeAll(() => {
    d = tempDir("phs-tune-hdu-")
    const cubes = twoCubes(NCHAN)
    two = path.join(d, "two.fits")
    alone = path.join(d, "second.fits")
    fs.writeFileSync(two, cubes.file)
    fs.writeFileSync(alone, cubes.secondAlone)
  })

  it("--truth: labels of that HDU's pixels are scored on its runs, which are phs pipeline --hdu N's", async () => {
    const w = path.join(d, "w")
    const common = ["--survey", "two", "--chunk-size", "2", "--workdir", w]
    // The truth: what a run of the second cube alone finds at beta=3, for its 3 × 2 pixels.
    const ref = await phs(["pipeline", alone, "--param", "beta=3", ...common, "--json"])
    expect(ref.code, ref.stderr).toBe(0)
    const rows = await rowsOf(w, "two", JSON.parse(ref.stdout).runId)
    const labels = path.join(d, "labels.json")
    fs.writeFileSync(labels, JSON.stringify({
      spectra: rows.map((row) => ({ x: row.x, y: row.y, components: row.component_amplitudes.map((amplitude, k) => ({ amplitude, mean: row.component_means[k], stddev: row.component_stddevs[k] })) }))
    }))
    expect(rows.some((row) => row.x === 2)).toBe(true)
    const r = await phs(["tune", two, "--hdu", "2", "--truth", labels, "--param", "beta=3,5", ...common, "--json", "--plot", path.join(d, "t.svg")])
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.points[0]).toMatchObject({ params: { beta: 3 }, f1: 1, precision: 1, recall: 1 })
    const single = await phs(["pipeline", two, "--hdu", "2", "--param", "beta=5", ...common, "--json"])
    expect(JSON.parse(single.stdout)).toMatchObject({ runId: out.points[1].runId, already: true, hdu: 2 })
    // The first 3-D image is 2 × 2: the labels do not fit it.
    const first = await phs(["tune", two, "--truth", labels, "--param", "beta=3", ...common])
    expect(first.code).toBe(2)
    expect(first.stderr.trim().split("\n")).toEqual([expect.stringMatching(/pixel \(2, \d\) is outside the cube: x is 0\.\.1, y is 0\.\.1$/)])
  }, 120_000)

  it("--synthetic: the benchmark is matched to that HDU's cube, as to the same cube in a file of its own", async () => {
    const args = ["--synthetic", "--per-category", "4", "--param", "beta=3,4", "--json", "--plot", path.join(d, "s.svg")]
    const named = await phs(["tune", two, "--hdu", "2", ...args])
    expect(named.code, named.stderr).toBe(0)
    const ownFile = await phs(["tune", alone, ...args])
    expect(ownFile.code, ownFile.stderr).toBe(0)
    const a = JSON.parse(named.stdout)
    const b = JSON.parse(ownFile.stdout)
    expect(a.synthetic).toEqual(b.synthetic)
    expect(a.synthetic).toMatchObject({ sampled: 6, channels: NCHAN })
    expect(a.points).toEqual(b.points)
    const first = JSON.parse((await phs(["tune", two, ...args])).stdout)
    expect(first.synthetic.sampled).toBe(4)
  }, 120_000)
})
