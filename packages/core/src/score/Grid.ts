/**
 * Parameter grids for sweeps: `name=a:b:step` (a to b inclusive, a < b, step > 0) or
 * `name=v1,v2,…` per parameter; the grid is every combination, the first parameter
 * varying slowest (docs/tuning.md).
 *
 * @since 0.1.0
 */
import * as Native from "@phs/fit-native"
import { Effect } from "effect"
import { InvalidInput } from "../Errors.js"
import * as Params from "../Params.js"

/**
 * One parameter's values.
 *
 * @since 0.1.0
 * @category models
 */
export interface Axis {
  readonly name: string
  readonly values: ReadonlyArray<number>
}

/**
 * A grid point: the parameters it sets.
 *
 * @since 0.1.0
 * @category models
 */
export type Point = Readonly<Record<string, number>>

/**
 * The most points a grid may have.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_POINTS = 400

/**
 * The grid when none is given: the β range PHSpectra's users sweep.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_GRID: ReadonlyArray<string> = ["beta=2:5:0.25"]

/** Names a grid may vary: the run parameters. */
const NAMES: ReadonlyArray<string> = [...Object.keys(Native.DEFAULT_PARAMS), "timeout_ms"]

// eslint-disable-next-line no-control-regex
const printable = (text: string): string => {
  const escaped = text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
  return escaped.length > 60 ? `${escaped.slice(0, 57)}...` : escaped
}

/** 2 + 3 × 0.1 is 2.3000000000000003: values of a range are rounded to 12 digits. */
const tidy = (v: number): number => Number(v.toPrecision(12))

/**
 * Parses one `--param` argument into an axis.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseAxis = (arg: string): Effect.Effect<Axis, InvalidInput> =>
  Effect.suspend(() => {
    const fail = (why: string) => Effect.fail(new InvalidInput({ reason: `--param ${printable(arg)}: ${why}` }))
    const eq = arg.indexOf("=")
    if (eq <= 0) return fail("expected name=a:b:step or name=v1,v2,...")
    const name = arg.slice(0, eq).trim()
    const spec = arg.slice(eq + 1).trim()
    if (!NAMES.includes(name)) return fail(`unknown parameter "${printable(name)}"; valid parameters: ${NAMES.join(", ")}`)
    const number = (text: string): number | undefined => {
      const n = Number(text)
      return text.trim() === "" || !Number.isFinite(n) ? undefined : n
    }
    if (spec === "") return fail("empty: give a range a:b:step or values v1,v2,...")
    if (spec.includes(":")) {
      const parts = spec.split(":")
      if (parts.length !== 3) return fail("a range is a:b:step (three numbers)")
      const [a, b, step] = parts.map(number)
      if (a === undefined || b === undefined || step === undefined) return fail("a range is a:b:step of numbers")
      if (!(step > 0)) return fail(`the step must be positive, got ${step}`)
      if (a === b) return fail(`the range ${a}:${b} is empty; for one value write ${name}=${a}`)
      if (a > b) return fail(`the range ${a}:${b} is inverted: it must go from the smaller value to the larger`)
      const count = Math.floor((b - a) / step + 1e-9) + 1
      if (count > MAX_POINTS) return fail(`${count} values: a grid has at most ${MAX_POINTS} points`)
      return Effect.succeed({ name, values: Array.from({ length: count }, (_, i) => tidy(a + i * step)) })
    }
    const values: number[] = []
    for (const text of spec.split(",")) {
      const v = number(text)
      if (v === undefined) return fail(`${JSON.stringify(printable(text))} is not a number`)
      if (values.includes(v)) return fail(`${v} is listed twice`)
      values.push(v)
    }
    return Effect.succeed({ name, values })
  })

/**
 * Parses every `--param` argument (the default grid when there are none) and checks each
 * point's parameters as a run would (`Params.resolve`), so that a bad value is refused
 * before anything runs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parse = (args: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<Axis>, InvalidInput> =>
  Effect.gen(function* () {
    const axes: Axis[] = []
    for (const arg of args.length === 0 ? DEFAULT_GRID : args) {
      const axis = yield* parseAxis(arg)
      if (axes.some((a) => a.name === axis.name)) return yield* Effect.fail(new InvalidInput({ reason: `--param ${axis.name} is given twice` }))
      axes.push(axis)
    }
    const n = axes.reduce((k, a) => k * a.values.length, 1)
    if (n > MAX_POINTS) return yield* Effect.fail(new InvalidInput({ reason: `the grid has ${n} points: at most ${MAX_POINTS}` }))
    for (const axis of axes) {
      for (const v of axis.values) yield* Params.resolve({ [axis.name]: v })
    }
    return axes
  })

/**
 * Every combination of the axes' values, the first axis varying slowest.
 *
 * @since 0.1.0
 * @category constructors
 */
export const points = (axes: ReadonlyArray<Axis>): ReadonlyArray<Point> =>
  axes.reduce<ReadonlyArray<Point>>((acc, axis) => acc.flatMap((p) => axis.values.map((v) => ({ ...p, [axis.name]: v }))), [{}])

/**
 * A point as text: `beta=2.5 snr_min=2`.
 *
 * @since 0.1.0
 * @category utils
 */
export const describe = (p: Point): string =>
  Object.entries(p)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ")
