import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as Grid from "../../src/score/Grid.js"

const reason = (args: ReadonlyArray<string>): string => {
  const exit = Effect.runSyncExit(Grid.parse(args))
  if (Exit.isSuccess(exit)) throw new Error(`parsed ${JSON.stringify(args)}`)
  const text = JSON.stringify(exit.cause)
  const m = /"reason":"((?:[^"\\]|\\.)*)"/.exec(text)
  return m === null ? text : JSON.parse(`"${m[1]}"`)
}

describe("Grid.parse", () => {
  it.effect("a range includes both ends, with tidy values", () =>
    Effect.gen(function* () {
      const [axis] = yield* Grid.parse(["beta=2:5:0.25"])
      expect(axis.name).toBe("beta")
      expect(axis.values).toHaveLength(13)
      expect(axis.values[0]).toBe(2)
      expect(axis.values[12]).toBe(5)
      expect(axis.values[3]).toBe(2.75)
      const [tenths] = yield* Grid.parse(["beta=2:3:0.1"])
      expect(tenths.values).toEqual([2, 2.1, 2.2, 2.3, 2.4, 2.5, 2.6, 2.7, 2.8, 2.9, 3])
      const [uneven] = yield* Grid.parse(["beta=2:3:0.4"])
      expect(uneven.values).toEqual([2, 2.4, 2.8])
    }))

  it.effect("lists, several parameters, and their product with the first slowest", () =>
    Effect.gen(function* () {
      const axes = yield* Grid.parse(["beta=3,4", "snr_min=1.5,2,2.5"])
      expect(Grid.points(axes)).toEqual([
        { beta: 3, snr_min: 1.5 },
        { beta: 3, snr_min: 2 },
        { beta: 3, snr_min: 2.5 },
        { beta: 4, snr_min: 1.5 },
        { beta: 4, snr_min: 2 },
        { beta: 4, snr_min: 2.5 }
      ])
      expect(Grid.describe({ beta: 3, snr_min: 2 })).toBe("beta=3 snr_min=2")
    }))

  it.effect("no --param: the default grid", () =>
    Effect.gen(function* () {
      const axes = yield* Grid.parse([])
      expect(Grid.points(axes)).toHaveLength(13)
      expect(axes[0].name).toBe("beta")
    }))

  it("refuses bad grids, each with a reason", () => {
    expect(reason(["beta=5:2:0.25"])).toMatch(/inverted/)
    expect(reason(["beta=3:3:0.25"])).toMatch(/empty.*beta=3/)
    expect(reason(["beta="])).toMatch(/empty/)
    expect(reason(["beta=2:5:0"])).toMatch(/step must be positive/)
    expect(reason(["beta=2:5:-1"])).toMatch(/step must be positive/)
    expect(reason(["beta=2:5"])).toMatch(/a:b:step/)
    expect(reason(["betta=2:5:1"])).toMatch(/unknown parameter "betta".*beta/)
    expect(reason(["beta=2,x"])).toMatch(/"x" is not a number/)
    expect(reason(["beta=2,2"])).toMatch(/listed twice/)
    expect(reason(["beta=2", "beta=3"])).toMatch(/given twice/)
    expect(reason(["beta=-1,2"])).toMatch(/beta/)
    expect(reason(["beta=0.001:100:0.001"])).toMatch(/at most 400/)
    expect(reason(["beta=1:20:1", "snr_min=1:30:1"])).toMatch(/600 points/)
    expect(reason(["beta"])).toMatch(/name=a:b:step/)
  })
})
