/**
 * What every Journal does, stated as tests: lookup by key, put-if-absent records (the first
 * record stands for every racer), and a run's entries in replay order.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { Journal } from "../../src/index.js"

const entry = (overrides: Partial<Journal.JournalEntry> = {}): Journal.JournalEntry => ({
  runId: "run-a",
  stage: "fit",
  scope: "chunk-0000000",
  step: "claim",
  inputHash: "h0",
  seq: 0,
  output: `{"attempt":1}`,
  recordedAt: 1_000,
  ...overrides
})

export const journalConformance = (name: string, layer: () => Layer.Layer<Journal.Journal, unknown>) =>
  describe(`Journal conformance: ${name}`, () => {
    const withJournal = <A, E>(f: (journal: Journal.Journal) => Effect.Effect<A, E>) => () =>
      Effect.flatMap(Journal.Journal, f).pipe(Effect.provide(layer()))

    it.effect("lookup of an unrecorded step is none", withJournal((journal) =>
      Effect.gen(function* () {
        expect(yield* journal.lookup(entry())).toEqual(Option.none())
      })))

    it.effect("a recorded step is found by its key", withJournal((journal) =>
      Effect.gen(function* () {
        const e = entry({ seq: 3, output: `{"rows":500}` })
        expect(yield* journal.record(e)).toEqual(e)
        expect(yield* journal.lookup(e)).toEqual(Option.some(e))
      })))

    it.effect("the key is (run, stage, scope, step, input hash): seq is not part of it", withJournal((journal) =>
      Effect.gen(function* () {
        const e = entry()
        yield* journal.record(e)
        expect(yield* journal.lookup({ ...e, seq: 7 })).toEqual(Option.some(e))
        for (const other of [{ runId: "run-b" }, { stage: "slow-fit" }, { scope: "chunk-0000500" }, { step: "write" }, { inputHash: "h1" }])
          expect(yield* journal.lookup({ ...e, ...other })).toEqual(Option.none())
      })))

    it.effect("record is put-if-absent: a second record of the key returns the first", withJournal((journal) =>
      Effect.gen(function* () {
        const first = entry({ output: `"first"`, recordedAt: 1_000 })
        yield* journal.record(first)
        const second = yield* journal.record(entry({ output: `"second"`, recordedAt: 2_000, seq: 1 }))
        expect(second).toEqual(first)
        expect(yield* journal.lookup(first)).toEqual(Option.some(first))
        expect(yield* journal.entries("run-a")).toEqual([first])
      })))

    it.effect("entries lists one run's entries ordered by stage, scope and seq", withJournal((journal) =>
      Effect.gen(function* () {
        const recorded = [
          entry({ stage: "split", scope: "run", step: "plan", seq: 0 }),
          entry({ stage: "fit", scope: "chunk-0000500", step: "complete", seq: 2 }),
          entry({ stage: "fit", scope: "chunk-0000000", step: "write", seq: 1 }),
          entry({ stage: "fit", scope: "chunk-0000500", step: "claim", seq: 0 }),
          entry({ stage: "fit", scope: "chunk-0000000", step: "claim", seq: 0 }),
          entry({ stage: "split", scope: "run", step: "enqueue", seq: 1 }),
          entry({ runId: "run-b", stage: "fit", scope: "chunk-0000000", step: "claim", seq: 0 })
        ]
        for (const e of recorded) yield* journal.record(e)
        const listed = (yield* journal.entries("run-a")).map((e) => `${e.stage}/${e.scope}/${e.seq}/${e.step}`)
        expect(listed).toEqual([
          "fit/chunk-0000000/0/claim",
          "fit/chunk-0000000/1/write",
          "fit/chunk-0000500/0/claim",
          "fit/chunk-0000500/2/complete",
          "split/run/0/plan",
          "split/run/1/enqueue"
        ])
        expect((yield* journal.entries("run-b")).length).toBe(1)
        expect(yield* journal.entries("run-nope")).toEqual([])
      })))
  })
