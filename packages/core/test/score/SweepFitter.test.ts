import { describe, expect, it } from "@effect/vitest"
import * as Native from "@phs/fit-native"
import { Effect, Exit, Layer } from "effect"
import * as BlobStore from "../../src/BlobStore.js"
import { FitError } from "../../src/Errors.js"
import * as Faults from "../../src/Faults.js"
import * as Fitter from "../../src/Fitter.js"
import * as Journal from "../../src/Journal.js"
import * as RunTable from "../../src/RunTable.js"
import * as WorkQueue from "../../src/WorkQueue.js"
import * as SweepFitter from "../../src/score/SweepFitter.js"

const N = 200

/** mulberry32 */
const uniform = (seed: number) => {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = Math.imul(s ^ (s >>> 15), s | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** `count` spectra of 1–4 lines in noise (seeded). */
const chunk = (count: number, seed: number): Float32Array => {
  const u = uniform(seed)
  const out = new Float32Array(count * N)
  for (let s = 0; s < count; s++) {
    const lines = Array.from({ length: 1 + Math.floor(4 * u()) }, () => ({ a: 0.5 + 3 * u(), m: 20 + 160 * u(), w: 1.5 + 6 * u() }))
    for (let i = 0; i < N; i++) {
      const noise = 0.25 * Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u())
      out[s * N + i] = lines.reduce((v, l) => v + l.a * Math.exp(-((i - l.m) ** 2) / (2 * l.w ** 2)), noise)
    }
  }
  return out
}

const set = (beta: number): SweepFitter.SweepSet => ({ params: Native.validateParams({ beta }), timeoutMs: 0 })
const SETS = [set(2), set(2.5), set(3)]
const options: Fitter.FitOptions = { timeoutMs: 0 }

/** The plain native fitter, counting its calls; and the native multi call, counting its calls and sets. */
const counted = () => {
  const native = Fitter.makeNative({ threads: 2 })
  const calls = { base: 0, multi: [] as number[] }
  const base: Fitter.Fitter = {
    version: native.version,
    decomposeBatch: (...args) => Effect.suspend(() => ((calls.base += 1), native.decomposeBatch(...args)))
  }
  const multi: SweepFitter.DecomposeMulti = (spectra, n, sets, o) =>
    Effect.suspend(() => (calls.multi.push(sets.length), SweepFitter.nativeMulti(spectra, n, sets, o)))
  return { native, base, multi, calls }
}

const bits = (ds: ReadonlyArray<Fitter.Decomposition>) => JSON.stringify(ds, (_, v) => (typeof v === "number" ? `${v}${Object.is(v, -0) ? "-" : ""}` : v))

describe("SweepFitter", () => {
  it.effect("fits a chunk once for every point and answers the other points from it, with the plain fitter's bits", () =>
    Effect.gen(function* () {
      const { native, base, multi, calls } = counted()
      const fitter = yield* SweepFitter.make(base, [...SETS, set(2)], { multi })
      expect(fitter.version).toBe(native.version)
      const a = chunk(12, 1)
      for (const s of SETS) {
        const got = yield* fitter.decomposeBatch(a, N, s.params, options)
        expect(bits(got)).toBe(bits(yield* native.decomposeBatch(a, N, s.params, options)))
      }
      expect(calls).toEqual({ base: 0, multi: [3] })
      expect(yield* fitter.stats).toMatchObject({ sharedCalls: 1, answered: 2, passedOn: 0, heldBytes: 0 })
      // another chunk is another call; the same bytes in a new array are the same chunk
      const b = chunk(12, 2)
      yield* fitter.decomposeBatch(b, N, SETS[1].params, options)
      expect(bits(yield* fitter.decomposeBatch(b.slice(), N, SETS[2].params, options))).toBe(bits(yield* native.decomposeBatch(b, N, SETS[2].params, options)))
      expect(calls.multi).toEqual([3, 3])
    }))

  it.effect("passes on what it cannot answer: other parameters or budgets, a start deadline, a chunk asked for twice", () =>
    Effect.gen(function* () {
      const { base, multi, calls } = counted()
      const fitter = yield* SweepFitter.make(base, SETS, { multi })
      const a = chunk(6, 3)
      yield* fitter.decomposeBatch(a, N, set(4).params, options)
      yield* fitter.decomposeBatch(a, N, SETS[0].params, { timeoutMs: 5000 })
      yield* fitter.decomposeBatch(a, N, SETS[0].params, { timeoutMs: 0, startBefore: Date.now() + 60_000 })
      expect(calls).toEqual({ base: 3, multi: [] })
      yield* fitter.decomposeBatch(a, N, SETS[0].params, options)
      yield* fitter.decomposeBatch(a, N, SETS[0].params, options) // a retried step: fitted alone
      yield* fitter.decomposeBatch(a, N, SETS[1].params, options) // still answered
      expect(calls).toEqual({ base: 4, multi: [3] })
    }))

  it.effect("fits nothing more for a retired point, and drops what only it was waiting for", () =>
    Effect.gen(function* () {
      const { base, multi, calls } = counted()
      const fitter = yield* SweepFitter.make(base, SETS, { multi })
      const a = chunk(6, 4)
      yield* fitter.decomposeBatch(a, N, SETS[0].params, options)
      yield* fitter.retire(SETS[0])
      yield* fitter.decomposeBatch(a, N, SETS[1].params, options)
      expect((yield* fitter.stats).heldBytes).toBeGreaterThan(0)
      yield* fitter.retire(SETS[2])
      expect((yield* fitter.stats).heldBytes).toBe(0)
      yield* fitter.decomposeBatch(a, N, SETS[2].params, options)
      expect(calls).toEqual({ base: 1, multi: [3] })
      // with one point left there is nothing to share
      yield* fitter.decomposeBatch(chunk(6, 5), N, SETS[1].params, options)
      expect(calls).toEqual({ base: 2, multi: [3] })
    }))

  it.effect("over its budget drops the oldest chunks, which are fitted again for the points still to come", () =>
    Effect.gen(function* () {
      const { native, base, multi, calls } = counted()
      const fitter = yield* SweepFitter.make(base, SETS, { multi, budgetBytes: 1 })
      const [a, b] = [chunk(6, 6), chunk(6, 7)]
      yield* fitter.decomposeBatch(a, N, SETS[0].params, options)
      yield* fitter.decomposeBatch(b, N, SETS[0].params, options)
      yield* fitter.retire(SETS[0])
      expect(bits(yield* fitter.decomposeBatch(a, N, SETS[1].params, options))).toBe(bits(yield* native.decomposeBatch(a, N, SETS[1].params, options)))
      // (fitting a again for the two points left pushed b out in turn)
      expect(bits(yield* fitter.decomposeBatch(b, N, SETS[1].params, options))).toBe(bits(yield* native.decomposeBatch(b, N, SETS[1].params, options)))
      expect(calls).toEqual({ base: 0, multi: [3, 3, 2, 2] })
    }))

  it.effect("a failed shared fit fails its caller; a point waiting for it is fitted alone", () =>
    Effect.gen(function* () {
      const { base, calls } = counted()
      // fails after giving the other point's request its turn
      const failing: SweepFitter.DecomposeMulti = () => Effect.zipRight(Effect.yieldNow(), Effect.fail(new FitError({ reason: "out of memory", retryable: false })))
      const fitter = yield* SweepFitter.make(base, SETS, { multi: failing })
      const a = chunk(4, 8)
      const [first, second] = yield* Effect.all(
        [Effect.exit(fitter.decomposeBatch(a, N, SETS[0].params, options)), Effect.exit(fitter.decomposeBatch(a, N, SETS[1].params, options))],
        { concurrency: 2 }
      )
      expect(Exit.isFailure(first)).toBe(true)
      expect(Exit.isSuccess(second) && second.value.length).toBe(4)
      expect(calls.base).toBe(1)
    }))
})

/** The context a run has under a fault plan (`PHS_FAULTS`): `base` as the Fitter, through the plan. */
const underPlan = (base: Fitter.Fitter, rules: Faults.FaultPlan["rules"]) =>
  Faults.layer({ seed: 1, rules }, Faults.dieCrash).pipe(
    Layer.provide(Layer.mergeAll(BlobStore.layerMemory, WorkQueue.layerMemory, RunTable.layerMemory, Journal.layerMemory, Layer.succeed(Fitter.Fitter, base)))
  )

describe("SweepFitter under a fault plan", () => {
  it.effect("every request meets the plan once, answered from the shared fit or not", () => {
    const { base, multi, calls } = counted()
    return Effect.gen(function* () {
      const fitter = yield* SweepFitter.make(yield* Fitter.Fitter, SETS, { multi })
      const a = chunk(4, 9)
      const [first, second, third] = yield* Effect.forEach(SETS, (s) => Effect.exit(fitter.decomposeBatch(a, N, s.params, options)))
      // the second request is the plan's second Fitter call, though only the first ran a fit
      expect(Exit.isSuccess(first) && Exit.isSuccess(third)).toBe(true)
      expect(Exit.isFailure(second) && JSON.stringify(second.cause)).toMatch(/injected fatal fault/)
      expect(calls).toEqual({ base: 0, multi: [3] })
      expect((yield* Faults.FaultLog).injected.fatal).toBe(1)
      // a request the sweep passes on (parameters of no point) meets it once too, in the base
      const other = set(4)
      expect(Exit.isSuccess(yield* Effect.exit(fitter.decomposeBatch(a, N, other.params, options)))).toBe(true)
      expect(calls.base).toBe(1)
    }).pipe(Effect.provide(underPlan(base, [{ service: "Fitter", op: "decomposeBatch", kind: "fatal", nth: 2 }])))
  })

  it.effect("spectra of answered requests blow their budget as the plan says", () => {
    const { base, multi, calls } = counted()
    const budgeted = SETS.map((s) => ({ ...s, timeoutMs: 60_000 }))
    return Effect.gen(function* () {
      const fitter = yield* SweepFitter.make(yield* Fitter.Fitter, budgeted, { multi })
      const a = chunk(5, 10)
      for (const s of budgeted) {
        const got = yield* fitter.decomposeBatch(a, N, s.params, { timeoutMs: s.timeoutMs })
        expect(got.map((d) => d.status)).toEqual(Array(5).fill("timeout"))
      }
      expect(calls).toEqual({ base: 0, multi: [3] })
      expect((yield* Faults.FaultLog).injected.slow).toBe(15)
    }).pipe(Effect.provide(underPlan(base, [{ service: "Fitter", op: "spectrum", kind: "slow" }])))
  })

  it.effect("without a plan the answers are the plain fitter's", () => {
    const { native, base, multi } = counted()
    return Effect.gen(function* () {
      const fitter = yield* SweepFitter.make(base, SETS, { multi })
      const a = chunk(4, 11)
      for (const s of SETS) expect(bits(yield* fitter.decomposeBatch(a, N, s.params, options))).toBe(bits(yield* native.decomposeBatch(a, N, s.params, options)))
    })
  })
})
