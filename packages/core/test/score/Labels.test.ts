import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as Labels from "../../src/score/Labels.js"

const failure = <A>(e: Effect.Effect<A, { readonly reason: string }>): string => {
  const exit = Effect.runSyncExit(Effect.flip(e))
  if (Exit.isFailure(exit)) throw new Error("succeeded")
  return exit.value.reason
}

const good = { spectra: [{ x: 1, y: 0, category: "SB", components: [{ amplitude: 1, mean: 10, stddev: 2 }] }, { x: 0, y: 0, components: [] }] }

describe("Labels", () => {
  it.effect("decodes the documented format; generator metadata is ignored", () =>
    Effect.gen(function* () {
      const labels = yield* Labels.decode(JSON.stringify({ ...good, generator: "synth.mjs", categories: ["SB", "SF"] }), "l.json")
      expect(labels.spectra).toHaveLength(2)
      expect(Labels.categoriesOf(labels)).toEqual(["SB", "SF", "all"])
      yield* Labels.checkAgainstCube(labels, { nx: 2, ny: 1, nChannels: 64 }, "l.json")
    }))

  it("refuses a file not in the format, in one line naming the file", () => {
    const bad = (v: unknown) => failure(Labels.decode(typeof v === "string" ? v : JSON.stringify(v), "l.json"))
    expect(bad("{not json")).toMatch(/^l\.json: not JSON/)
    expect(bad([1, 2])).toMatch(/expected an object/)
    expect(bad({ pixels: [] })).toMatch(/spectra/)
    expect(bad({ spectra: [] })).toMatch(/at least one/)
    expect(bad({ spectra: [{ x: 0, y: 0 }] })).toMatch(/components/)
    expect(bad({ spectra: [{ x: -1, y: 0, components: [] }] })).toMatch(/x/)
    expect(bad({ spectra: [{ x: 0.5, y: 0, components: [] }] })).toMatch(/x/)
    expect(bad({ spectra: [{ x: 0, y: 0, components: [{ amplitude: 1, mean: 3, sigma: 2 }] }] })).toMatch(/stddev|sigma/)
    expect(bad({ spectra: [{ x: 0, y: 0, components: [{ amplitude: 1, mean: 3, stddev: 0 }] }] })).toMatch(/stddev/)
    expect(bad({ spectra: [{ x: 0, y: 0, catgory: "SB", components: [] }] })).toMatch(/catgory/)
    expect(bad({ spectra: [{ x: 0, y: 0, components: [] }, { x: 0, y: 0, components: [] }] })).toMatch(/labelled twice/)
    for (const v of ["{not json", "a,b\n1,2\n", { spectra: [] }, { spectra: [{ x: 0, y: 0, components: [{ amplitude: 1, mean: 3, stddev: 0 }] }] }]) {
      expect(bad(v)).not.toMatch(/\n/)
      expect(bad(v)).toMatch(/docs\/tuning\.md/)
    }
  })

  it.effect("refuses pixels outside the cube and means outside its channels", () =>
    Effect.gen(function* () {
      const labels = yield* Labels.decode(JSON.stringify(good), "l.json")
      expect(failure(Labels.checkAgainstCube(labels, { nx: 1, ny: 1, nChannels: 64 }, "l.json"))).toMatch(/pixel \(1, 0\) is outside the cube: x is 0\.\.0/)
      expect(failure(Labels.checkAgainstCube(labels, { nx: 2, ny: 1, nChannels: 8 }, "l.json"))).toMatch(/mean 10, outside the cube's channels 0\.\.7/)
    }))
})
