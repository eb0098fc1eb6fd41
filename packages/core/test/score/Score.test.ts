/**
 * The project's scorer against the benchmark's own (bench/score.mjs) on its own fixtures:
 * a bench/synth.mjs cube and truth, with predictions from the decomposer and from
 * perturbed truth that exercise every criterion.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Native from "@phs/fit-native"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Fits from "../../src/Fits.js"
import { prng } from "../../src/internal/prng.js"
import { assign } from "../../src/score/Assignment.js"
import * as Labels from "../../src/score/Labels.js"
import * as Score from "../../src/score/Score.js"
// @ts-expect-error plain ESM without types
import { hungarian } from "../../../../bench/score.mjs"

const bench = fileURLToPath(new URL("../../../../bench/", import.meta.url))
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "phs-score-"))

type Comp = Labels.Component
interface Pred { readonly x: number; readonly y: number; readonly components: ReadonlyArray<Comp> }

/** A synth.mjs fixture: its truth file and its data, spectrum-major. */
const fixture = (seed: number, n: number) => {
  const cube = path.join(tmp, `s${seed}.fits`)
  const truth = path.join(tmp, `s${seed}.truth.json`)
  execFileSync(process.execPath, [path.join(bench, "synth.mjs"), "--seed", String(seed), "--n", String(n), "--out", cube, "--truth", truth], { stdio: "ignore" })
  const bytes = new Uint8Array(fs.readFileSync(cube))
  const src: Fits.ByteSource<never> = { size: bytes.length, read: (o, l) => Effect.succeed(bytes.subarray(o, o + l)) }
  const data = Effect.runSync(Effect.flatMap(Fits.readHeader(src), (h) => Fits.readSpectra(src, h, 0, h.nx * h.ny)))
  return { truth, text: fs.readFileSync(truth, "utf8"), data, nx: n, nChannels: 424 }
}

/** bench/score.mjs's figures for a truth file and predictions. */
const reference = (truthFile: string, preds: ReadonlyArray<Pred>, name: string) => {
  const file = path.join(tmp, `${name}.pred.json`)
  fs.writeFileSync(file, JSON.stringify({ spectra: preds }))
  const out = execFileSync(process.execPath, [path.join(bench, "score.mjs"), truthFile, file, "--quiet"], { encoding: "utf8" })
  return JSON.parse(out.trim().split("\n").at(-1)!) as {
    overall: Record<string, number>
    categories: Record<string, Record<string, number>>
  }
}

const agree = (mine: Score.Figures, theirs: Record<string, number>) => {
  expect({ n: mine.nTrue, d: mine.nDetected, c: mine.nCorrect }).toEqual({ n: theirs.n_true, d: theirs.n_detected, c: theirs.n_correct })
  expect(mine.precision).toBeCloseTo(theirs.precision, 12)
  expect(mine.recall).toBeCloseTo(theirs.recall, 12)
  expect(mine.f1).toBeCloseTo(theirs.f1, 12)
}

const compare = (fx: ReturnType<typeof fixture>, labels: Labels.Labels, preds: ReadonlyArray<Pred>, name: string) => {
  const theirs = reference(fx.truth, preds, name)
  const mine = Score.scoreLabels(labels, Score.byPixel(preds))
  agree(mine.overall, theirs.overall)
  expect(Object.keys(mine.categories)).toEqual(Object.keys(theirs.categories))
  for (const [c, f] of Object.entries(mine.categories)) agree(f, theirs.categories[c])
  return mine
}

/** Truth with every kind of error: jittered means, amplitudes and widths across each
 * criterion's bounds, dropped and spurious components, a non-finite one, missing spectra. */
const perturbed = (labels: Labels.Labels, seed: number): Pred[] => {
  const r = prng(seed)
  const out: Pred[] = []
  for (const s of labels.spectra) {
    if (r() < 0.05) continue
    const comps: Comp[] = []
    for (const c of s.components) {
      if (r() < 0.1) continue
      comps.push({
        amplitude: c.amplitude * (r() < 0.1 ? (r() < 0.5 ? -0.5 : 12) : 0.5 + r()),
        mean: c.mean + (r() - 0.5) * 2.6 * c.stddev,
        stddev: c.stddev * (r() < 0.15 ? (r() < 0.5 ? 0.2 : 3) : 0.4 + 1.5 * r())
      })
    }
    if (r() < 0.2) comps.push({ amplitude: 0.3, mean: 10 + 400 * r(), stddev: 1 + 5 * r() })
    if (r() < 0.02) comps.push({ amplitude: Number.NaN, mean: 200, stddev: 3 })
    out.push({ x: s.x, y: s.y, components: comps })
  }
  return out
}

describe("Score: agrees with bench/score.mjs on synth.mjs fixtures", () => {
  it.effect("predictions of the decomposer at three β", () =>
    Effect.gen(function* () {
      const fx = fixture(1, 30)
      const labels = yield* Labels.decode(fx.text, "truth.json")
      const f1s: number[] = []
      for (const beta of [2, 3.5, 6]) {
        const fits = yield* Effect.promise(() => Native.decomposeBatch(fx.data, fx.nChannels, { beta }, { threads: 2 }))
        const preds = labels.spectra.map((s) => ({ x: s.x, y: s.y, components: fits[s.y * fx.nx + s.x].components }))
        f1s.push(compare(fx, labels, preds, `fit-${beta}`).overall.f1)
      }
      // Sanity: the decomposer scores well, and the three β do not all score the same.
      expect(Math.max(...f1s)).toBeGreaterThan(0.8)
      expect(new Set(f1s).size).toBeGreaterThan(1)
    }))

  it.effect("perturbed truth on two seeds, every criterion on both sides of its bound", () =>
    Effect.gen(function* () {
      for (const seed of [2, 3]) {
        const fx = fixture(seed, 40)
        const labels = yield* Labels.decode(fx.text, "truth.json")
        const preds = perturbed(labels, seed)
        const mine = compare(fx, labels, preds, `perturbed-${seed}`)
        expect(mine.missing).toBeGreaterThan(0)
        expect(mine.overall.nCorrect).toBeGreaterThan(0)
        expect(mine.overall.nCorrect).toBeLessThan(mine.overall.nTrue)
      }
    }))

  it("perfect predictions score 1; none score 0 recall", () => {
    const labels: Labels.Labels = { spectra: [{ x: 0, y: 0, components: [{ amplitude: 1, mean: 50, stddev: 3 }] }, { x: 1, y: 0, components: [] }] }
    const perfect = Score.scoreLabels(labels, Score.byPixel(labels.spectra))
    expect(perfect.overall).toMatchObject({ precision: 1, recall: 1, f1: 1 })
    expect(perfect.categories).toHaveProperty("all")
    const none = Score.scoreLabels(labels, () => [])
    expect(none.overall).toMatchObject({ nTrue: 1, nDetected: 0, precision: 0, recall: 0, f1: 0 })
  })

  it("each criterion's bound is strict", () => {
    const t = { amplitude: 2, mean: 100, stddev: 4 }
    expect(Score.matches(t, { amplitude: 2, mean: 103.9, stddev: 4 })).toBe(true)
    expect(Score.matches(t, { amplitude: 2, mean: 104, stddev: 4 })).toBe(false)
    expect(Score.matches(t, { amplitude: 19.9, mean: 100, stddev: 4 })).toBe(true)
    expect(Score.matches(t, { amplitude: 20, mean: 100, stddev: 4 })).toBe(false)
    expect(Score.matches(t, { amplitude: 0, mean: 100, stddev: 4 })).toBe(false)
    expect(Score.matches(t, { amplitude: 2, mean: 100, stddev: 1.2 })).toBe(false)
    expect(Score.matches(t, { amplitude: 2, mean: 100, stddev: 1.21 })).toBe(true)
    expect(Score.matches(t, { amplitude: 2, mean: 100, stddev: 10 })).toBe(false)
    expect(Score.matches(t, { amplitude: 2, mean: 100, stddev: 9.99 })).toBe(true)
  })
})

describe("Assignment", () => {
  const total = (cost: number[][], pairs: ArrayLike<number>) => Array.from(pairs).reduce((s, j, i) => s + (j >= 0 ? cost[i][j] : 0), 0)

  it("finds the least total cost of bench/score.mjs's Hungarian on random matrices, one-to-one", () => {
    const r = prng(7)
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + Math.floor(r() * 6)
      const m = 1 + Math.floor(r() * 6)
      const cost = Array.from({ length: n }, () => Array.from({ length: m }, () => Math.round(r() * 1000) / 10))
      const mine = assign(cost)
      const theirs: number[] = hungarian(cost)
      expect(total(cost, mine)).toBeCloseTo(total(cost, theirs), 9)
      const used = Array.from(mine).filter((j) => j >= 0)
      expect(used.length).toBe(Math.min(n, m))
      expect(new Set(used).size).toBe(used.length)
    }
  })

  it("beats greedy pairing where greedy is wrong", () => {
    // Greedy takes (0,0) at cost 1 and must then pay 10 for (1,1); the optimum pays 2 + 2.
    expect(Array.from(assign([[1, 2], [2, 10]]))).toEqual([1, 0])
  })
})
