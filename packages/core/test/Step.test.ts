import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option, Ref, Schema, TestClock } from "effect"
import { StepTimeout, StorageError } from "../src/Errors.js"
import * as Journal from "../src/Journal.js"
import * as Stage from "../src/Stage.js"
import * as Step from "../src/Step.js"

const Input = Schema.Struct({ n: Schema.Number })
const Output = Schema.Struct({ doubled: Schema.Number })

/** A step that counts its executions. */
const counted = (runs: Ref.Ref<number>, options: Partial<Step.Step<{ readonly n: number }, { readonly n: number }, { readonly doubled: number }, { readonly doubled: number }, StorageError, never>> = {}) =>
  Step.make({
    name: "double",
    input: Input,
    output: Output,
    run: ({ n }) => Effect.as(Ref.update(runs, (k) => k + 1), { doubled: 2 * n }),
    ...options
  })

const inScope = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provideService(effect, Step.StepScope, Step.makeScope("run-1", "test", "s"))

describe("Step", () => {
  it.effect("records its output and answers a second call from the journal without running", () =>
    Effect.gen(function* () {
      const runs = yield* Ref.make(0)
      const step = counted(runs)
      expect(yield* inScope(Step.run(step, { n: 2 }))).toEqual({ doubled: 4 })
      expect(yield* inScope(Step.run(step, { n: 2 }))).toEqual({ doubled: 4 })
      expect(yield* Ref.get(runs)).toBe(1)
      const entries = yield* Effect.flatMap(Journal.Journal, (j) => j.entries("run-1"))
      expect(entries.map((e) => [e.stage, e.scope, e.step, e.seq, e.output])).toEqual([["test", "s", "double", 0, '{"doubled":4}']])
    }).pipe(Effect.provide(Journal.layerMemory))
  )

  it.effect("keys by canonical input: same fields in another order hit, another value misses", () =>
    Effect.gen(function* () {
      const Obj = Schema.Struct({ a: Schema.Number, b: Schema.Number })
      const runs = yield* Ref.make(0)
      const step = Step.make({ name: "sum", input: Obj, output: Schema.Number, run: ({ a, b }) => Effect.as(Ref.update(runs, (k) => k + 1), a + b) })
      yield* inScope(Step.run(step, { a: 1, b: 2 }))
      yield* inScope(Step.run(step, { b: 2, a: 1 }))
      expect(yield* Ref.get(runs)).toBe(1)
      yield* inScope(Step.run(step, { a: 1, b: 3 }))
      expect(yield* Ref.get(runs)).toBe(2)
    }).pipe(Effect.provide(Journal.layerMemory))
  )

  it.effect("when two executions race, the first record wins and both return it", () =>
    Effect.gen(function* () {
      const journal = Journal.makeMemory()
      let calls = 0
      const racy = Step.make({ name: "now", input: Schema.Struct({}), output: Schema.Number, run: () => Effect.sync(() => ++calls) })
      // Execution A records first; execution B ran too (it missed the journal) but must return A's value.
      const slowLookup: Journal.Journal = { ...journal, lookup: () => Effect.succeed(Option.none()) }
      const a = yield* inScope(Step.run(racy, {})).pipe(Effect.provideService(Journal.Journal, journal))
      const b = yield* inScope(Step.run(racy, {})).pipe(Effect.provideService(Journal.Journal, slowLookup))
      expect(calls).toBe(2)
      expect(a).toBe(1)
      expect(b).toBe(1)
    })
  )

  it.effect("retries a retryable failure and succeeds", () =>
    Effect.gen(function* () {
      const attempts = yield* Ref.make(0)
      const flaky = Step.make({
        name: "flaky",
        input: Input,
        output: Output,
        run: ({ n }) =>
          Effect.flatMap(Ref.updateAndGet(attempts, (k) => k + 1), (k) =>
            k < 3 ? Effect.fail(new StorageError({ operation: "put", reason: "throttled", retryable: true })) : Effect.succeed({ doubled: 2 * n })
          )
      })
      const fiber = yield* Effect.fork(inScope(Step.run(flaky, { n: 5 })))
      yield* TestClock.adjust("10 seconds")
      expect(yield* Fiber.join(fiber)).toEqual({ doubled: 10 })
      expect(yield* Ref.get(attempts)).toBe(3)
    }).pipe(Effect.provide(Journal.layerMemory))
  )

  it.effect("does not retry a fatal failure, and records nothing", () =>
    Effect.gen(function* () {
      const attempts = yield* Ref.make(0)
      const broken = Step.make({
        name: "broken",
        input: Input,
        output: Output,
        run: () => Effect.zipRight(Ref.update(attempts, (k) => k + 1), Effect.fail(new StorageError({ operation: "put", reason: "access denied", retryable: false })))
      })
      const err = yield* Effect.flip(inScope(Step.run(broken, { n: 1 })))
      expect(err.reason).toBe("access denied")
      expect(yield* Ref.get(attempts)).toBe(1)
      expect(yield* Effect.flatMap(Journal.Journal, (j) => j.entries("run-1"))).toEqual([])
    }).pipe(Effect.provide(Journal.layerMemory))
  )

  it.effect("times out an attempt with StepTimeout, retries it, and gives up after the schedule", () =>
    Effect.gen(function* () {
      const attempts = yield* Ref.make(0)
      const hanging = Step.make({
        name: "hang",
        input: Input,
        output: Output,
        timeout: "1 second",
        run: () => Effect.zipRight(Ref.update(attempts, (k) => k + 1), Effect.never)
      })
      const fiber = yield* Effect.fork(inScope(Step.run(hanging, { n: 1 })))
      yield* TestClock.adjust("1 minute")
      const err = yield* Effect.flip(Fiber.join(fiber))
      expect(err).toBeInstanceOf(StepTimeout)
      expect(yield* Ref.get(attempts)).toBe(4)
    }).pipe(Effect.provide(Journal.layerMemory))
  )

  it.effect("numbers steps within a stage execution, from 0 in each execution", () =>
    Effect.gen(function* () {
      const runs = yield* Ref.make(0)
      const step = counted(runs)
      const stage = Stage.make({
        name: "twice",
        input: Input,
        output: Schema.Number,
        run: ({ n }) => Effect.zipWith(Step.run(step, { n }), Step.run(step, { n: n + 1 }), (a, b) => a.doubled + b.doubled)
      })
      yield* Stage.execute(stage, { runId: "r", scope: "a" }, { n: 1 })
      yield* Stage.execute(stage, { runId: "r", scope: "b" }, { n: 1 })
      const entries = yield* Effect.flatMap(Journal.Journal, (j) => j.entries("r"))
      expect(entries.map((e) => `${e.scope}#${e.seq}`)).toEqual(["a#0", "a#1", "b#0", "b#1"])
    }).pipe(Effect.provide(Layer.fresh(Journal.layerMemory)))
  )
})
